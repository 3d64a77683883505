"""The lab as NiceGUI's pytest `user` plugin runs it (pyproject's `main_file`): the same pages and API as
`nanogpt-lab serve`, without a real server. `NANOGPT_LAB_UI_DETECT_DEVICE=0` skips the torch-importing
device detection (the badge then shows the CPU, which is known without torch)."""

import os

from nicegui import ui

from nanogpt_lab.ui.app import TITLE, build, install_api
from nanogpt_lab.ui.view import LabSettings

install_api(token=None)
build(LabSettings(detect_device=os.environ.get('NANOGPT_LAB_UI_DETECT_DEVICE', '1') != '0'))
ui.run(title=TITLE, storage_secret='nanogpt-lab tests', reload=False, show=False)
