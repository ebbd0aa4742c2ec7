"""docs/settings.md is generated from the settings classes and must not go stale."""

from __future__ import annotations

from pathlib import Path

from infra import settings_doc
from services.common import settings

REPO = Path(__file__).resolve().parents[2]
SETTINGS_DOC = REPO / "docs" / "settings.md"


def _variables(env_file: Path) -> set[str]:
    """Variables an env example sets or shows commented out (`# NAME=...`)."""
    names = set()
    for line in env_file.read_text().splitlines():
        text = line.lstrip("# ").split("=", 1)
        if len(text) == 2 and text[0].isupper() and text[0].replace("_", "").isalnum():
            names.add(text[0])
    return names


def _documented() -> set[str]:
    return {
        settings_doc.env_name(cls, name)
        for cls in settings_doc.settings_classes()
        for name in cls.model_fields
    }


def test_docs_settings_md_is_up_to_date() -> None:
    assert SETTINGS_DOC.read_text() == settings_doc.render(), (
        f"docs/settings.md is stale: regenerate it with `{settings_doc.REGENERATE}`"
    )


def test_every_setting_has_a_description() -> None:
    missing = [
        settings_doc.env_name(cls, name)
        for cls in settings_doc.settings_classes()
        for name, field in cls.model_fields.items()
        if not field.description
    ]
    assert missing == [], f"add description= to {missing} in services/common/settings.py"


def test_every_settings_class_says_who_reads_it() -> None:
    classes = {cls.__name__ for cls in settings_doc.settings_classes()}
    assert classes == set(settings_doc.READERS), "update READERS in infra/settings_doc.py"


def test_the_reference_shows_no_secret_value() -> None:
    text = settings_doc.render()
    dev_values = (settings.DEV_SHOPBOX_TOKEN, settings.DEV_SHOPBOX_HOOK_SECRET)
    for value in (*dev_values, settings.DEV_RACKBEAT_TOKEN):
        assert value not in text
    secrets = [line for line in text.splitlines() if "**Secret.**" in line]
    assert len(secrets) == 5  # Kafka SASL password, 2 Shopbox, 2 Rackbeat


def test_both_env_examples_use_only_documented_settings() -> None:
    documented = _documented()
    for example in (REPO / ".env.example", REPO / "infra" / "compose.env.example"):
        unknown = _variables(example) - documented
        assert unknown == set(), f"{example.name} shows undocumented {unknown}"
