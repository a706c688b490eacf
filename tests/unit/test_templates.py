"""``start`` templates: what is filled in, what is refused at load, and why."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.config.templates import TemplateError, check, placeholders, render
from backends.core.errors import ConfigError

LOCAL = ("port", "python")


@pytest.mark.parametrize(
    ("template", "values", "command"),
    [
        (
            "{python} app.py --port {port}",
            {"python": "/usr/bin/python3", "port": 8001},
            "/usr/bin/python3 app.py --port 8001",
        ),
        ("sh -c 'echo $${{HOME}}; app {port}'", {"port": 5}, "sh -c 'echo $${HOME}; app 5'"),
        (
            "sh -c 'echo ${{HOME}}; exec app --port {port}'",
            {"port": 9},
            "sh -c 'echo ${HOME}; exec app --port 9'",
        ),
        ("awk '{{print $1}}' x --port={port}", {"port": 1}, "awk '{print $1}' x --port=1"),
        ("{{{port}}}", {"port": 7}, "{7}"),
        (
            "app --port {port} --host {address}",
            {"port": 2, "address": "10.0.0.11"},
            "app --port 2 --host 10.0.0.11",
        ),
    ],
)
def test_render_fills_placeholders_and_unescapes_braces(template, values, command):
    assert render(template, **values) == command


def test_a_shell_variable_reaches_the_shell_intact():
    command = render("sh -c 'echo ${{HOME}} {port}'", port=5)
    assert shlex.split(command) == ["sh", "-c", "echo ${HOME} 5"]


@pytest.mark.parametrize(
    ("template", "phrases"),
    [
        ("sh -c 'echo ${HOME}; app {port}'", ("unknown placeholder {HOME}", "${{HOME}}")),
        ("app --port {prot}", ("unknown placeholder {prot}", "{port}, {python}")),
        ("app --port {port:5}", ("unknown placeholder {port:5}",)),
        ("app --port {} {port}", ("unknown placeholder {}",)),
        ("app { --port {port}", ("lone '{' at character 5",)),
        ("app } --port {port}", ("lone '}' at character 5",)),
        ("app --port {port", ("lone '{' at character 12",)),
        ("app --port 8000", ("must contain {port}",)),
    ],
)
def test_bad_templates_are_refused_in_one_line_naming_the_problem(template, phrases):
    with pytest.raises(ConfigError) as caught:
        check(template, LOCAL)
    message = caught.value.message
    assert message.startswith("start ") and "\n" not in message and caught.value.exit_code == 2
    if "must contain" not in message:
        assert "write a literal brace as {{" in message
    for phrase in phrases:
        assert phrase in message


def test_a_control_character_in_a_placeholder_is_shown_escaped():
    with pytest.raises(ConfigError) as caught:
        check("app {port} {\x1b[31m}", LOCAL)
    assert "\x1b" not in caught.value.message and "\\x1b" in caught.value.message


def test_render_refuses_what_it_cannot_fill():
    with pytest.raises(TemplateError, match="placeholder {address} with no value"):
        render("app {port} {address}", port=1)
    with pytest.raises(TemplateError, match="lone"):
        render("app {port", port=1)


# what the checker accepts, render fills completely, and agrees with str.format ----------

literal = st.text(st.characters(codec="utf-8"), max_size=20).map(
    lambda t: t.replace("{", "{{").replace("}", "}}")
)
names = st.sampled_from(["port", "python"])


@settings(max_examples=300)
@given(st.lists(st.tuples(literal, names), max_size=5), literal)
def test_accepted_templates_render_like_str_format(parts, tail):
    template = "".join(text + "{" + name + "}" for text, name in parts) + tail + "{port}"
    check(template, LOCAL)
    values = {"port": 8080, "python": "/usr/bin/python3"}
    assert render(template, **values) == template.format(**values)
    assert placeholders(template)[-1] == "port"


@settings(max_examples=300)
@given(st.text(st.sampled_from("{}ab $"), max_size=12))
def test_any_text_is_accepted_or_refused_never_crashes(template):
    try:
        check(template + "{port}", LOCAL)
    except ConfigError as error:
        assert "\n" not in error.message
    else:
        values = {"port": 1, "python": "p"}
        assert render(template + "{port}", **values) == (template + "{port}").format(**values)
