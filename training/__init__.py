"""Data, recipes and training stages for HiLight (installed as `modeling_hilight.training`)."""
