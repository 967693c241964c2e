"""The type reference (docs/reference.md) is the schemas' own rendering; the README names the
two commands."""

from pathlib import Path

from ses_provider import reference

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
REFERENCE = REPO / "docs" / "reference.md"


def test_the_reference_is_in_step_with_the_schemas():
    text = REFERENCE.read_text()
    block = text[text.index(reference.START) : text.index(reference.END) + len(reference.END)]
    assert block == reference.render(), "run: cd layers/ses_provider && python -m ses_provider.reference"


def test_the_reference_lists_every_property_and_attribute_of_every_type():
    text = REFERENCE.read_text()
    for module in reference.MODULES:
        assert f"### `{module.TYPE.type_name}`" in text
        for name in module.TYPE.properties.fields:
            assert f"| `{name}` |" in text
        for name in module.TYPE.attributes:
            assert f"| `{name}` |" in text


def test_the_readme_names_the_two_commands_and_ci_runs_the_test_command():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci
