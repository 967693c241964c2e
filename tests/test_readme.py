"""The README and docs/: the type reference is the schemas' own rendering, the README stays
short and links every page, every relative link lands on a file and a heading, and the
layout page names every module."""

import re
from pathlib import Path

import pytest
from cfnlint.api import lint
from cfnlint.decode import decode_str

from ses_provider import reference

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
REFERENCE = DOCS / "reference.md"
LAYOUT = DOCS / "layout.md"
PAGES = sorted(DOCS.glob("*.md"))
README_LIMIT = 15_000  # characters, as `wc -m` counts them
# The folders whose modules docs/layout.md names, and the root their names are given from.
LAYOUT_FOLDERS = {
    REPO / "layers" / "ses_provider" / "ses_provider": REPO / "layers" / "ses_provider",
    REPO / "tools": REPO,
    REPO / "benchmarks": REPO,
    REPO / "demo": REPO,
}

FENCE = re.compile(r"^ *(```|~~~).*?^ *\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def prose(text: str) -> str:
    """The text without its code: fenced blocks and inline code hold no links or headings."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation but '-' and '_' removed, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, seen = set(), {}
    for line in FENCE.sub("", path.read_text()).splitlines():
        match = re.match(r"#{1,6} +(.*?)\s*#*\s*$", line)
        if match:
            slug = anchor(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path.read_text()))


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


def test_the_readme_is_short():
    assert len(README.read_text()) < README_LIMIT


def test_the_readme_links_every_docs_page():
    linked = {(README.parent / target.split("#")[0]).resolve() for target in links(README)}
    assert PAGES
    assert [p.name for p in PAGES if p.resolve() not in linked] == []


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_lands_on_a_file_and_a_heading(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto: ...
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and (resolved.suffix != ".md" or fragment not in anchors(resolved)):
            broken.append(f"{target}: no such heading")
    assert broken == []


def test_the_anchor_rule_is_githubs():
    assert anchor("Moving from native AWS::SES::* types") == "moving-from-native-awsses-types"
    assert anchor("A request's states") == "a-requests-states"
    assert anchor("`Custom::EmailIdentity`") == "customemailidentity"
    assert anchor("BYODKIM keys from Secrets Manager or SSM") == "byodkim-keys-from-secrets-manager-or-ssm"


def modules() -> list[str]:
    names = []
    for folder, root in LAYOUT_FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            if path.name != "__init__.py" and "__pycache__" not in path.parts and "botocore_data" not in path.parts:
                names.append(path.relative_to(root).as_posix())
    return names


def test_the_layout_names_every_module():
    text = LAYOUT.read_text()
    assert "ses_provider/protocol/delivery.py" in modules() and "tools/migrate.py" in modules()
    missing = [name for name in modules() if not re.search(rf"(?<![\w/]){re.escape(name)}\b", text)]
    assert missing == [], "add a line for each to docs/layout.md"


def test_the_deploy_page_lists_every_provider_parameter():
    template = (REPO / "template.yaml").read_text()
    section = template[template.index("\nParameters:\n") : template.index("\nConditions:\n")]
    parameters = re.findall(r"^  (\w+):$", section, re.M)
    assert "AllowAdoption" in parameters
    text = (DOCS / "deploy.md").read_text()
    assert [name for name in parameters if f"| `{name}` |" not in text] == []


def test_the_readme_first_stack_passes_cfn_lint_and_uses_only_properties_and_attributes_of_its_types():
    blocks = re.findall(r"^```yaml\n(.*?)^```", README.read_text(), re.M | re.S)
    templates = [block for block in blocks if block.startswith("AWSTemplateFormatVersion")]
    assert templates
    types = {module.TYPE.type_name: module.TYPE for module in reference.MODULES}
    for text in templates:
        assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in lint(text)] == []
        template, matches = decode_str(text)
        assert matches == []
        resources = template["Resources"]
        for name, resource in resources.items():
            if resource["Type"] in types:
                allowed = set(types[resource["Type"]].properties.fields) | {"ServiceToken", "ServiceTimeout"}
                assert set(resource["Properties"]) <= allowed, name
        for target, attribute in re.findall(r"!GetAtt (\w+)\.(\w+)", text):
            if resources[target]["Type"] in types:
                assert attribute in types[resources[target]["Type"]].attributes, f"{target}.{attribute}"


def test_the_reference_states_the_measured_response_sizes():
    from tests.test_deed import DEED_WORST_CASE_BYTES
    from tests.test_dns_records import WORST_CASE_BYTES, WORST_CASE_WITHOUT_DNS_RECORDS_BYTES

    text = REFERENCE.read_text()
    for size in (WORST_CASE_BYTES, WORST_CASE_WITHOUT_DNS_RECORDS_BYTES, DEED_WORST_CASE_BYTES):
        assert f"{size:,} bytes" in text, size
