"""The lab in the browser (NiceGUI): the shell and the seven stage pages."""
