"""The lab's look in one place: colours (semantic ones fixed across pages) and class fragments (the shell that
uses them around every page is `ui/shell.py`)."""

from __future__ import annotations

# --- colours ---------------------------------------------------------------------------------------------------
PRIMARY = '#4338ca'  # indigo: links, the current stage, primary buttons
SECONDARY = '#0f766e'
ACCENT = '#b45309'
INK = '#1f2937'
MUTED = '#6b7280'

# Semantic colours mean the same thing on every page and in every chart; never reuse them for anything else.
TRAIN = '#2563eb'  # training split / train loss
VAL = '#ea580c'  # validation split / val loss
CHAR = '#7c3aed'  # character-level tokenizer
BPE = '#059669'  # GPT-2 byte-pair encoding
UNIGRAM = '#db2777'  # SentencePiece unigram (GPT-1's tokenizer)
TRAINED_BPE = '#d97706'  # a byte-level BPE the learner trains
TOKENIZER_COLORS = {'char': CHAR, 'gpt2': BPE, 'bpe': TRAINED_BPE, 'unigram': UNIGRAM}
LIVE = '#15803d'  # provenance: measured now, on this machine
SIMULATED = '#7c3aed'  # provenance: replayed from a recorded run
FORMULA = '#0369a1'  # provenance: computed from a published or exact formula
PROVENANCE_COLORS = {'live': LIVE, 'simulated': SIMULATED, 'formula': FORMULA, 'mixed': SIMULATED}
OK = '#15803d'
WARN = '#b45309'
ERROR = '#b91c1c'

# Architecture diagram: one colour per kind of part, so the block reads at a glance.
PART_COLORS = {
    'embedding': '#dbeafe',
    'norm': '#fef3c7',
    'attention': '#ede9fe',
    'mlp': '#dcfce7',
    'residual': '#f1f5f9',
    'head': '#fee2e2',
}
PART_STROKE = '#334155'
PART_SELECTED = PRIMARY

# Token chips: light fills that keep dark text readable; neighbouring tokens always differ.
CHIP_FILLS = ('#fde68a', '#a7f3d0', '#bfdbfe', '#fbcfe8', '#ddd6fe', '#fed7aa', '#99f6e4', '#e9d5ff')

# --- class fragments -------------------------------------------------------------------------------------------
PAGE = 'w-full max-w-screen-xl mx-auto px-4 pb-16 gap-4'
HEADER = 'bg-white text-gray-900 border-b border-gray-200 px-4 py-2 items-center gap-3'
BRAND = 'text-lg font-bold tracking-tight'
STAGE_TITLE = 'text-2xl font-bold text-gray-900'
STAGE_GOAL = 'text-base text-gray-600'
SECTION_TITLE = 'text-lg font-semibold text-gray-900'
HELP = 'text-sm text-gray-600 leading-relaxed'
CARD = 'w-full p-4 gap-3 shadow-sm border border-gray-200'
CARD_TITLE = 'text-base font-semibold'
NUMBER_BIG = 'text-2xl font-bold tabular-nums'
NUMBER_LABEL = 'text-xs uppercase tracking-wide text-gray-500'
CAPTION = 'text-xs text-gray-500'
MONO = 'font-mono text-sm'
SR_ONLY = 'sr-only'
ERROR_TEXT = 'text-sm text-red-700'
ROW_WRAP = 'w-full flex-wrap gap-3 items-stretch'
GRID_2 = 'w-full grid grid-cols-1 lg:grid-cols-2 gap-4'
GRID_3 = 'w-full grid grid-cols-1 md:grid-cols-3 gap-4'
CHART_HEIGHT = 'h-72'
# Chart text: the page's own font (Quasar's), then CJK fonts by name, before any generic family. ECharts measures text
# on a canvas outside the page, where `sans-serif` is not what a zh-CN page draws with (a CJK font, Latin included):
# legend items overlapped. Named fonts resolve the same inside and outside the page.
CHART_FONT = (
    'Roboto, -apple-system, "Helvetica Neue", Helvetica, Arial, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", '
    'sans-serif'
)
