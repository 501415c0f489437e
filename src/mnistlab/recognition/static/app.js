// The drawing page: draw with mouse, pen or finger (pointer events), get live predictions.
// Two modes: one digit (a square pad, POST /predict, probability bars) and a number (a wide pad,
// POST /read, the digits read with their boxes drawn over the pad). The canvas is sent as a PNG with a
// transparent background, exactly like an uploaded drawing; the server prepares it like MNIST. At most
// one request is in flight: strokes made meanwhile are sent as soon as the answer arrives. An uploaded
// photo is sent as it is, and drawn onto the pad so that what was read can be seen on it. With Explain on
// (one-digit mode), /predict?explain=true also returns the 28 x 28 picture the model saw and its occlusion
// map, drawn as a small preview: the ink in grey, red where hiding it costs the answer probability.
"use strict";

const MODES = {
  digit: {
    endpoint: "/predict",
    width: 280,
    height: 280,
    stroke: 20, // px on the 280 px pad: about MNIST's stroke width relative to a digit
    title: "Draw a digit",
    hint: "Draw one digit, 0 to 9, with the mouse or a finger. The model answers as you draw.",
    waiting: "Waiting for a digit.",
  },
  number: {
    endpoint: "/read",
    width: 720,
    height: 240,
    stroke: 14, // digits about 160 px tall on the 240 px pad
    title: "Write a number",
    hint: "Write a number on one line, digit after digit, with the mouse or a finger. Each digit read is boxed.",
    waiting: "Waiting for a number.",
  },
};
const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const overlay = document.getElementById("overlay");
const marks = overlay.getContext("2d");
const labelView = document.getElementById("label");
const confidenceView = document.getElementById("confidence");
const statusView = document.getElementById("status");
const barsView = document.getElementById("bars");
const digitsView = document.getElementById("digits");
const explainButton = document.getElementById("explain");
const explanationView = document.getElementById("explanation-view");
const explanationCanvas = document.getElementById("explanation");

// The same colours as mnistlab/explanation.py's overlay, so the page and the PNGs read alike.
const INK_SHADE = 0.75; // dark ink on white paper: full ink at 25% white
const MAX_ALPHA = 0.7; // the colour's opacity at the map's largest drop
const MIN_SHOWN_DROP = 0.01; // probability: full colour stands for at least this drop
const EVIDENCE_FOR = [230, 40, 30];
const EVIDENCE_AGAINST = [40, 110, 240];

let mode = "digit";
let drawing = false;
let hasInk = false;
let inFlight = false;
let dirty = false; // the pad changed since the last request was sent
let explaining = false; // the Explain toggle
// Where the picture that was read lies on the pad: the pad itself, or an uploaded photo scaled onto it.
let view = { scale: 1, left: 0, top: 0 };

function makeBars() {
  for (let digit = 0; digit < 10; digit++) {
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.dataset.digit = String(digit);
    bar.innerHTML =
      `<span class="digit">${digit}</span><span class="track"><span class="fill"></span></span>` +
      `<span class="value">0%</span>`;
    barsView.appendChild(bar);
  }
}

function showAnswer(answer) {
  if (mode === "number") {
    showReading(answer);
    return;
  }
  // A refusal (label null: not one digit it can read) shows its reason, and the bars still show the
  // probabilities the model gave.
  const refused = answer.label === null;
  labelView.textContent = refused ? "?" : String(answer.label);
  confidenceView.textContent = refused ? "" : `${(100 * answer.probabilities[answer.label]).toFixed(1)}%`;
  statusView.textContent = refused ? `Not read: ${answer.reason}.` : "";
  statusView.className = refused ? "refused" : "";
  barsView.querySelectorAll(".bar").forEach((bar) => {
    const digit = Number(bar.dataset.digit);
    const probability = answer.probabilities[digit] || 0;
    bar.querySelector(".fill").style.width = `${(100 * probability).toFixed(1)}%`;
    bar.querySelector(".value").textContent = `${(100 * probability).toFixed(1)}%`;
    bar.classList.toggle("best", digit === answer.label);
  });
  drawExplanation(explaining ? answer : null);
}

// answer.seen (28 rows of 0..255) in grey, answer.explanation (28 rows of probability drops) in colour
// on top; hidden when there is none (Explain off, or a refused picture).
function drawExplanation(answer) {
  if (!answer || !answer.explanation || !answer.seen) {
    explanationView.hidden = true;
    return;
  }
  const size = answer.seen.length;
  explanationCanvas.width = explanationCanvas.height = size;
  const heat = answer.explanation.flat();
  const scale = Math.max(MIN_SHOWN_DROP, ...heat.map(Math.abs));
  const pixels = explanationCanvas.getContext("2d").createImageData(size, size);
  answer.seen.flat().forEach((value, index) => {
    const strength = Math.max(-1, Math.min(1, heat[index] / scale));
    const colour = strength >= 0 ? EVIDENCE_FOR : EVIDENCE_AGAINST;
    const alpha = MAX_ALPHA * Math.abs(strength);
    for (let channel = 0; channel < 3; channel++) {
      pixels.data[4 * index + channel] = (255 - INK_SHADE * value) * (1 - alpha) + colour[channel] * alpha;
    }
    pixels.data[4 * index + 3] = 255;
  });
  explanationCanvas.getContext("2d").putImageData(pixels, 0, 0);
  explanationView.hidden = false;
}

function showReading(reading) {
  labelView.textContent = reading.text || "?";
  confidenceView.textContent = "";
  statusView.textContent = reading.text ? "" : "No digits found.";
  statusView.className = "";
  digitsView.replaceChildren(
    ...reading.digits.map((digit) => {
      const item = document.createElement("li");
      item.className = "read-digit";
      item.dataset.digit = String(digit.label);
      item.textContent = `${digit.label}  ${(100 * digit.probability).toFixed(1)}%`;
      return item;
    }),
  );
  drawBoxes(reading.digits);
}

function drawBoxes(digits) {
  marks.clearRect(0, 0, overlay.width, overlay.height);
  if (!view.scale) {
    return;
  }
  marks.lineWidth = 2;
  marks.strokeStyle = "#12a150";
  marks.fillStyle = "#12a150";
  marks.font = "bold 16px system-ui, sans-serif";
  for (const digit of digits) {
    const [x0, y0, x1, y1] = digit.box;
    const left = view.left + x0 * view.scale;
    const top = view.top + y0 * view.scale;
    marks.strokeRect(left, top, (x1 - x0) * view.scale, (y1 - y0) * view.scale);
    marks.fillText(String(digit.label), left + 2, Math.max(14, top - 4));
  }
}

function showProblem(message) {
  statusView.textContent = message;
  statusView.className = "error";
}

function resetAnswer(message) {
  labelView.textContent = "?";
  confidenceView.textContent = "";
  statusView.textContent = message;
  statusView.className = "";
  barsView.querySelectorAll(".bar").forEach((bar) => {
    bar.querySelector(".fill").style.width = "0";
    bar.querySelector(".value").textContent = "0%";
    bar.classList.remove("best");
  });
  digitsView.replaceChildren();
  marks.clearRect(0, 0, overlay.width, overlay.height);
  explanationView.hidden = true;
}

async function send(blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  const explained = mode === "digit" && explaining;
  const url = MODES[mode].endpoint + (explained ? "?explain=true" : "");
  const response = await fetch(url, { method: "POST", body: form });
  const body = await response.json();
  if (!response.ok) {
    throw new Error(typeof body.detail === "string" ? body.detail : `error ${response.status}`);
  }
  return body;
}

function predictDrawing() {
  if (!hasInk || inFlight) {
    return;
  }
  inFlight = true;
  document.body.dataset.busy = "true"; // a drawing is being read: its answer is not shown yet
  dirty = false;
  const sentMode = mode;
  pad.toBlob(async (blob) => {
    try {
      const answer = await send(blob, "drawing.png");
      if (sentMode === mode) {
        view = { scale: 1, left: 0, top: 0 }; // the pad itself was read
        showAnswer(answer);
      }
    } catch (problem) {
      showProblem(problem.message);
    } finally {
      inFlight = false;
      if (dirty) {
        predictDrawing();
      } else {
        document.body.dataset.busy = "false"; // the answer shown is the drawing's as it stands
      }
    }
  }, "image/png");
}

function position(event) {
  const box = pad.getBoundingClientRect();
  return [
    ((event.clientX - box.left) * pad.width) / box.width,
    ((event.clientY - box.top) * pad.height) / box.height,
  ];
}

pad.addEventListener("pointerdown", (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  const [x, y] = position(event);
  ink.beginPath();
  ink.moveTo(x, y);
  ink.lineTo(x + 0.01, y); // a dot for a single tap
  ink.stroke();
});

pad.addEventListener("pointermove", (event) => {
  if (!drawing) {
    return;
  }
  const [x, y] = position(event);
  ink.lineTo(x, y);
  ink.stroke();
  hasInk = true;
  dirty = true;
  predictDrawing();
});

function endStroke() {
  if (drawing) {
    drawing = false;
    hasInk = true;
    dirty = true;
    predictDrawing();
  }
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function clearPad() {
  ink.clearRect(0, 0, pad.width, pad.height);
  hasInk = false;
  dirty = false;
  view = { scale: 1, left: 0, top: 0 };
  resetAnswer(MODES[mode].waiting);
}

function setPen() {
  ink.lineWidth = MODES[mode].stroke;
  ink.lineCap = "round";
  ink.lineJoin = "round";
  ink.strokeStyle = "#111";
}

function setMode(name) {
  mode = name;
  const settings = MODES[name];
  // Resizing a canvas clears it and resets its pen.
  pad.width = overlay.width = settings.width;
  pad.height = overlay.height = settings.height;
  setPen();
  document.body.classList.toggle("number-mode", name === "number");
  document.getElementById("mode-digit").setAttribute("aria-pressed", String(name === "digit"));
  document.getElementById("mode-number").setAttribute("aria-pressed", String(name === "number"));
  document.getElementById("title").textContent = settings.title;
  document.getElementById("hint").textContent = settings.hint;
  document.title = `mnistlab: ${settings.title.toLowerCase()}`;
  clearPad();
}

// The uploaded picture, scaled to fit the pad and centred on a white sheet, with its place recorded so
// that boxes in the picture's pixels can be drawn where they belong on the pad.
async function drawPhoto(file) {
  const url = URL.createObjectURL(file);
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const scale = Math.min(pad.width / image.naturalWidth, pad.height / image.naturalHeight);
    const width = image.naturalWidth * scale;
    const height = image.naturalHeight * scale;
    view = { scale, left: (pad.width - width) / 2, top: (pad.height - height) / 2 };
    ink.fillStyle = "#fff";
    ink.fillRect(0, 0, pad.width, pad.height);
    ink.drawImage(image, view.left, view.top, width, height);
    return true;
  } catch {
    return false; // a format this browser cannot show: the server still reads it
  } finally {
    URL.revokeObjectURL(url);
  }
}

document.getElementById("clear").addEventListener("click", clearPad);
explainButton.addEventListener("click", () => {
  explaining = !explaining;
  explainButton.setAttribute("aria-pressed", String(explaining));
  if (!explaining) {
    explanationView.hidden = true;
  } else if (hasInk) {
    dirty = true; // ask again, for the map of what is on the pad
    predictDrawing();
  }
});
document.getElementById("mode-digit").addEventListener("click", () => setMode("digit"));
document.getElementById("mode-number").addEventListener("click", () => setMode("number"));

document.getElementById("upload").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) {
    return;
  }
  clearPad();
  statusView.textContent = `Reading ${file.name}...`;
  const shown = await drawPhoto(file);
  hasInk = false; // the photo is sent as it is, not the pad
  try {
    const answer = await send(file, file.name);
    if (!shown) {
      view = { scale: 0, left: 0, top: 0 }; // nothing shown to draw boxes on
    }
    showAnswer(answer);
  } catch (problem) {
    showProblem(problem.message);
  }
  event.target.value = "";
});

setPen();
makeBars();
