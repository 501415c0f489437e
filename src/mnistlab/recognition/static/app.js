// The drawing page: draw with mouse, pen or finger (pointer events), get live predictions.
// The canvas is sent as a PNG with a transparent background, exactly like an uploaded drawing, to
// POST /predict; the server prepares it like MNIST. At most one request is in flight: strokes made
// meanwhile are sent as soon as the answer arrives.
"use strict";

const STROKE_WIDTH = 20; // px on the 280 px pad: about MNIST's stroke width relative to a digit
const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const labelView = document.getElementById("label");
const confidenceView = document.getElementById("confidence");
const statusView = document.getElementById("status");
const barsView = document.getElementById("bars");

let drawing = false;
let hasInk = false;
let inFlight = false;
let dirty = false; // the pad changed since the last request was sent

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
  labelView.textContent = String(answer.label);
  confidenceView.textContent = `${(100 * answer.probabilities[answer.label]).toFixed(1)}%`;
  statusView.textContent = "";
  statusView.className = "";
  barsView.querySelectorAll(".bar").forEach((bar) => {
    const digit = Number(bar.dataset.digit);
    const probability = answer.probabilities[digit] || 0;
    bar.querySelector(".fill").style.width = `${(100 * probability).toFixed(1)}%`;
    bar.querySelector(".value").textContent = `${(100 * probability).toFixed(1)}%`;
    bar.classList.toggle("best", digit === answer.label);
  });
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
}

async function send(blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  const response = await fetch("/predict", { method: "POST", body: form });
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
  dirty = false;
  pad.toBlob(async (blob) => {
    try {
      showAnswer(await send(blob, "drawing.png"));
    } catch (problem) {
      showProblem(problem.message);
    } finally {
      inFlight = false;
      if (dirty) {
        predictDrawing();
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

document.getElementById("clear").addEventListener("click", () => {
  ink.clearRect(0, 0, pad.width, pad.height);
  hasInk = false;
  dirty = false;
  resetAnswer("Waiting for a digit.");
});

document.getElementById("upload").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) {
    return;
  }
  resetAnswer(`Reading ${file.name}...`);
  try {
    showAnswer(await send(file, file.name));
  } catch (problem) {
    showProblem(problem.message);
  }
  event.target.value = "";
});

ink.lineWidth = STROKE_WIDTH;
ink.lineCap = "round";
ink.lineJoin = "round";
ink.strokeStyle = "#111";
makeBars();
