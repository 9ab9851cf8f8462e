"""Generating a dataset: `pipeline.generate` checks the arguments, prepares and locks the output
folder (outdir), runs an executor over the image indices and assembles the dataset files; the
producer renders and labels one image; executors run producers (inline, local processes, Ray)."""
