"""One module per catalog file format (Parquet, FITS, CSV, HDF5), each opening a file into the
shared column/table model of :mod:`cubes.readers.common`; :func:`cubes.io.open_catalog` picks
the reader and builds the Dataset."""
