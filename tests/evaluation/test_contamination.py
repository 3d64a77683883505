"""The contamination guard finds an evaluation prompt in training prompts and in a pretraining text."""

from nanogpt_lab.evaluation.contamination import Overlap, find_overlaps


def test_prompts_found_in_training_prompts_and_text():
    held_out = ['What is 12 + 30?', 'Spell the word night backwards.', 'hi']
    found = find_overlaps(
        held_out,
        {'sft: lab-tasks (train)': ['what is 12+30 ?', 'What is 1 + 3?'], 'dpo: prefs (train)': ['hi']},
        {'base: notes (train.bin)': 'ROMEO: spell the word NIGHT backwards. JULIET: hi there'},
    )
    assert set(found) == {
        Overlap('What is 12 + 30?', 'sft: lab-tasks (train)'),
        Overlap('hi', 'dpo: prefs (train)'),  # an exact training prompt counts, however short
        Overlap('Spell the word night backwards.', 'base: notes (train.bin)'),
    }  # 'hi' inside the text is not evidence: two letters occur anywhere


def test_a_clean_lineage_has_no_overlaps():
    assert find_overlaps(['What is 2 + 2?'], {'sft': ['What is 2 + 3?']}, {'base': 'What is 2 + 3? no'}) == []
