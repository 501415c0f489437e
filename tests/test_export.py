"""`mnistlab export`: ONNX files that agree with Keras on all of MNIST test, SavedModels, and refusals."""

from __future__ import annotations

import keras
import numpy as np
import onnx
import pytest
from cli_support import call_cli
from recognition_support import mnist_split

import mnistlab
from mnistlab.recognition.export import export
from mnistlab.recognition.onnx_conversion import INPUT_NAME, OUTPUT_NAME, ExportError, keras_to_onnx


@pytest.fixture(scope="module")
def model_path(fastcnn_run):
    return fastcnn_run


@pytest.fixture(scope="module")
def onnx_file(model_path, tmp_path_factory):
    return export(model_path, format="onnx", out=tmp_path_factory.mktemp("export") / "digits.onnx")


def test_onnx_file_is_valid_nhwc_and_documented(onnx_file):
    proto = onnx.load(str(onnx_file))
    onnx.checker.check_model(proto, full_check=True)
    (image,) = proto.graph.input
    shape = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
    assert image.name == INPUT_NAME and shape == ["N", 28, 28, 1]  # NHWC, as users hold images
    assert [output.name for output in proto.graph.output] == [OUTPUT_NAME]
    assert "mnistlab.input" in {prop.key for prop in proto.metadata_props}
    assert not list(onnx_file.parent.glob(".*"))  # no temporary file left beside it


def test_onnx_matches_keras_on_the_whole_test_set(onnx_file, model_path, mnist_dir):
    """The exported graph is the model itself; the run's calibration travels in its metadata."""
    images, labels = mnist_split(mnist_dir, "t10k")
    keras_classifier = mnistlab.load_classifier(model_path)
    exported = mnistlab.load_classifier(onnx_file)  # outside its run directory
    assert exported.run_dir is None and exported.temperature == keras_classifier.temperature != 1.0
    from_keras = keras_classifier.predict_proba(images)
    from_onnx = exported.predict_proba(images)
    assert from_onnx.shape == (10_000, 10)
    assert np.array_equal(from_onnx.argmax(axis=1), from_keras.argmax(axis=1))  # everywhere
    assert np.abs(from_onnx - from_keras).max() <= 1e-4
    assert (from_onnx.argmax(axis=1) == labels).mean() >= 0.97
    raw = exported.model.run(None, {INPUT_NAME: images[:256, ..., None].astype(np.float32) / 255})[0]
    uncalibrated = np.asarray(keras_classifier.model.predict(images[:256, ..., None] / 255, verbose=0))
    assert np.abs(raw - uncalibrated).max() <= 1e-4  # what other runtimes see: the model's own outputs


def test_saved_model_serves_the_same_probabilities(model_path, mnist_dir, tmp_path):
    import tensorflow as tf

    target = export(model_path, format="saved_model", out=tmp_path / "digits_saved_model")
    assert (target / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits_saved_model"]  # staging folder gone
    images, _ = mnist_split(mnist_dir, "t10k")
    pixels = images[:256, ..., None].astype(np.float32) / 255
    reloaded = tf.saved_model.load(str(target))  # kept in a name: its variables live as long as it does
    served = reloaded.serve(pixels).numpy()
    keras_classifier = mnistlab.load_classifier(model_path)
    keras_classifier.temperature = 1.0  # the SavedModel is the model itself, without the run's calibration
    expected = keras_classifier.predict_proba(pixels)
    np.testing.assert_allclose(served, expected, atol=1e-5)
    with pytest.raises(ExportError, match="already exists"):
        export(model_path, format="saved_model", out=target)


def augmenting_ensemble() -> keras.Model:
    """Two sub-models with augmentation, batch norm, depthwise and residual layers, averaged."""
    image = keras.Input((28, 28, 1))
    members = []
    for index in range(2):
        x = keras.layers.Rescaling(1.0)(image)
        x = keras.layers.RandomRotation(0.1)(x)
        x = keras.layers.RandomTranslation(0.1, 0.1)(x)
        x = keras.layers.RandomZoom(0.1)(x)
        x = keras.layers.Conv2D(8, 3, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Add()([x, keras.layers.DepthwiseConv2D(3, padding="same")(x)])
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.AveragePooling2D(2)(x)
        x = keras.layers.Dropout(0.5)(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        members.append(keras.Model(image, keras.layers.Dense(10, activation="softmax")(x), name=f"m{index}"))
    inputs = keras.Input((28, 28, 1))
    return keras.Model(inputs, keras.layers.Average()([member(inputs) for member in members]), name="ens")


def test_ensembles_with_augmentation_export_in_inference_mode(mnist_dir):
    keras.utils.set_random_seed(0)
    model = augmenting_ensemble()
    data = keras_to_onnx(model)  # refuses itself if it differs from Keras by more than 1e-4
    proto = onnx.load_from_string(data)
    assert not {"RandomUniform", "StatelessRandomUniformV2"} & {node.op_type for node in proto.graph.node}
    import onnxruntime

    images, _ = mnist_split(mnist_dir, "t10k")
    pixels = images[:64, ..., None].astype(np.float32) / 255
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    from_onnx = session.run(None, {INPUT_NAME: pixels})[0]
    np.testing.assert_allclose(from_onnx, np.asarray(model(pixels, training=False)), atol=1e-5)


def test_a_layer_without_onnx_equivalent_is_named():
    class InverseErf(keras.layers.Layer):
        def call(self, images):
            return keras.ops.erfinv(keras.ops.clip(images, -0.5, 0.5))

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            InverseErf(name="odd_layer"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    with pytest.raises(ExportError, match="Erfinv in layer 'odd_layer' has no ONNX equivalent"):
        keras_to_onnx(model)


def test_cli_export_and_its_refusals(model_path, tmp_path):
    result = call_cli("export", model_path, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {tmp_path / 'm.onnx'}"

    refusals = {
        ("--format", "tflite"): "unknown export format 'tflite'",
        ("--out", str(tmp_path / "m.bin")): "an ONNX export is one .onnx file",
        ("--quantize", "int4"): "unknown quantization 'int4'; choose one of: none, int8",
        ("--format", "saved_model", "--quantize", "int8"): "makes an ONNX file; use it with format='onnx'",
    }
    for flags, message in refusals.items():
        refused = call_cli("export", model_path, *flags)
        ours = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
        assert refused.returncode == 2 and len(ours) == 1 and message in ours[0], refused.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["m.onnx"]  # the refusals wrote nothing
    onnx_refused = call_cli("export", tmp_path / "m.onnx")
    assert onnx_refused.returncode == 2 and "already an ONNX model" in onnx_refused.stderr


KERAS_ZOO = [spec for spec in mnistlab.list_models() if spec.kind == "keras"]


@pytest.mark.parametrize("spec", KERAS_ZOO, ids=lambda spec: spec.name)
def test_every_keras_model_of_the_zoo_converts(spec):
    keras.utils.set_random_seed(0)
    # 2 members give an ensemble every kind of layer that 20 do, in a tenth of the conversion time
    smallest = {"n_estimators": 2} if "n_estimators" in spec.architecture else {}
    model = mnistlab.get_model(spec.name, **smallest)
    proto = onnx.load_from_string(keras_to_onnx(model))  # checked, and within 1e-4 of Keras on a probe
    assert proto.graph.input[0].name == INPUT_NAME
