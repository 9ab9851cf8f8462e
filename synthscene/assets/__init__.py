"""The asset pipeline: meshes and URDFs made render-ready (conversion, collision hulls, size and
orientation checks, budgets), the asset library (`synthscene assets`), generated shapes, and a
look at one asset (`assets check` / `assets preview`)."""
