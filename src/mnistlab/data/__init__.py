"""MNIST-family data: tfds-compatible loading into numpy arrays, and what to look at in a notebook.

    import mnistlab
    ds, info = mnistlab.load("mnist", split="train[:80%]", with_info=True)

Modules: idx (the file format), splits (the split grammar), order (tfds's example order),
registry (datasets, mirrors, checksums), fetch (find, download, verify), cache (.npy memory maps),
info (DatasetInfo), load (`load`), batches (shuffled float32 batches for training), benchmark
(their speed), stats (class balance), notebook (DataFrame and picture grid).
Nothing heavy is imported here.
"""
