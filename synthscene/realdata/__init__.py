"""Real annotated photographs: reading a gold set (YOLO or BOP layout) and the dataset files
training and evaluation take."""
