"""The lab in the browser (NiceGUI): the shell and the six stage pages."""
