"""MNIST-family data: tfds-compatible loading into numpy arrays, and what to look at in a notebook.

    import mnistlab
    ds, info = mnistlab.load("mnist", split="train[:80%]", with_info=True)
    from mnistlab.data import verify
    problems = [check for check in verify("mnist") if check.problem]   # `mnistlab data verify`

Modules: idx (the file format), splits (the split grammar), order (tfds's example order),
registry (datasets, mirrors, checksums), urls (https only, redacted), fetch (find, download, verify),
cache (.npy memory maps), integrity (`verify`: every byte against the checksums), info (DatasetInfo),
load (`load`), batches (shuffled float32 batches for training), benchmark (their speed), stats (class
balance), notebook (DataFrame and picture grid).
Nothing heavy is imported here: `verify` is imported on first use.
"""


def __getattr__(name: str):
    if name == "verify":
        from mnistlab.data.integrity import verify

        return verify
    raise AttributeError(f"module 'mnistlab.data' has no attribute {name!r}")
