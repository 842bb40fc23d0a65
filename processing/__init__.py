"""Turning videos and text into HiLight model inputs (installed as `modeling_hilight.processing`)."""
