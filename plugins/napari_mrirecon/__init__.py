"""napari plugin for mrirecon (reader, sample data, reconstruction widgets): built on the library,
holding no algorithms. The widgets arrive with the plugin issue."""
