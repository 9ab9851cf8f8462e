"""Labels: what is measured in a rendered image (boxes, masks, visibility) and the writers that store it."""
