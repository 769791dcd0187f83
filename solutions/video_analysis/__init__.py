"""Video analysis demo: search videos by image, who appears when (faces), what appears when (labels)."""
