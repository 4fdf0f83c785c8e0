"""Training data: notes rendered from General MIDI SoundFonts with FluidSynth or read from a user's NSynth copy,
their per-frame features, and batches for training."""
from dietgen.data.dataset import Dataset, NoteDataset
from dietgen.data.render import render_dataset
from dietgen.data.synthetic import synthetic_dataset

__all__ = ["Dataset", "NoteDataset", "render_dataset", "synthetic_dataset"]
