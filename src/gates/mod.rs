//! Health gates checked before each traffic step and through every bake.
