"""A variant's templates see the message context and nothing else; errors name variant and line."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.template import Context

from messaging.models import MessageVariant
from messaging.rendering import CONTEXT, VariantTemplateError, compile_template, message_context
from messaging.services import create_variant
from tests.messaging.email_setup import with_identity

CONTEXT_NAMES = ", ".join(CONTEXT)


def render(source: str, *, html: bool = False, **values) -> str:
    context = message_context(
        **{
            "first_name": "Ana",
            "polling_place": "Lincoln Elementary",
            "talking_points": ("voted in 1 of the last 4 primaries", "age 23"),
            "sender": "Friends of Lee",
            **values,
        }
    )
    template = compile_template(source, html=html, variant="gotv", field="body")
    return template.render(Context(context, autoescape=html))


def test_template_reads_every_name_of_the_context():
    source = (
        "Hi {{ voter.first_name }}, {{ sender.name }} here. "
        "{% if voter.polling_place %}You vote at {{ voter.polling_place }}.{% endif %}\n"
        "{% for point in voter.talking_points %}{{ forloop.counter }}. {{ point|capfirst }}\n"
        "{% endfor %}First: {{ voter.talking_points.0 }}"
    )

    assert render(source) == (
        "Hi Ana, Friends of Lee here. You vote at Lincoln Elementary.\n"
        "1. Voted in 1 of the last 4 primaries\n2. Age 23\n"
        "First: voted in 1 of the last 4 primaries"
    )


def test_unknown_values_render_as_nothing():
    source = (
        "Hi {{ voter.first_name }}!"
        "{% if voter.polling_place %} At {{ voter.polling_place }}{% endif %}"
    )

    assert render(source, first_name="", polling_place="", talking_points=()) == "Hi !"


def test_html_body_escapes_values_and_plain_text_does_not():
    point = "<b>taxes & schools</b>"

    assert render("{{ voter.talking_points.0 }}", html=True, talking_points=(point,)) == (
        "&lt;b&gt;taxes &amp; schools&lt;/b&gt;"
    )
    assert render("{{ voter.talking_points.0 }}", talking_points=(point,)) == point


def test_context_holds_only_strings_and_tuples():
    context = message_context(first_name="Ana", polling_place="", talking_points=["a"], sender="S")

    assert context == {
        "voter": {"first_name": "Ana", "polling_place": "", "talking_points": ("a",)},
        "sender": {"name": "S"},
    }


OUTSIDE = f"is not in the message context; a template sees only {CONTEXT_NAMES}"
ALLOWED_TAGS = "allowed: comment, firstof, for, if, spaceless, verbatim, with"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ settings.SECRET_KEY }}", f"{{{{ settings.SECRET_KEY }}}} {OUTSIDE}"),
        ("{{ voter.campaign.name }}", f"{{{{ voter.campaign.name }}}} {OUTSIDE}"),
        (
            "{{ voter.campaign.memberships.all }}",
            f"{{{{ voter.campaign.memberships.all }}}} {OUTSIDE}",
        ),
        ("{{ voter.phone }}", f"{{{{ voter.phone }}}} {OUTSIDE}"),
        ("{{ request.user.email }}", f"{{{{ request.user.email }}}} {OUTSIDE}"),
        ("{% if settings.DEBUG %}x{% endif %}", f"{{{{ settings.DEBUG }}}} {OUTSIDE}"),
        ("{% with s=settings %}{{ s.SECRET_KEY }}{% endwith %}", f"{{{{ settings }}}} {OUTSIDE}"),
        (
            "{% for x in settings.INSTALLED_APPS %}{{ x }}{% endfor %}",
            f"{{{{ settings.INSTALLED_APPS }}}} {OUTSIDE}",
        ),
        (
            "{{ voter.first_name|default:settings.SECRET_KEY }}",
            f"{{{{ settings.SECRET_KEY }}}} {OUTSIDE}",
        ),
        ("{% firstof voter.first_name user.username %}", f"{{{{ user.username }}}} {OUTSIDE}"),
        ("{% load static %}", f"{{% load %}} is not an allowed tag ({ALLOWED_TAGS})"),
        ("{% load i18n %}{% trans 'x' %}", f"{{% load %}} is not an allowed tag ({ALLOWED_TAGS})"),
        (
            '{% include "admin/base.html" %}',
            f"{{% include %}} is not an allowed tag ({ALLOWED_TAGS})",
        ),
        (
            '{% extends "admin/base.html" %}',
            f"{{% extends %}} is not an allowed tag ({ALLOWED_TAGS})",
        ),
        ("{% debug %}", f"{{% debug %}} is not an allowed tag ({ALLOWED_TAGS})"),
        ("{% csrf_token %}", f"{{% csrf_token %}} is not an allowed tag ({ALLOWED_TAGS})"),
        ("{% url 'admin:index' %}", f"{{% url %}} is not an allowed tag ({ALLOWED_TAGS})"),
        ("{% now 'Y' %}", f"{{% now %}} is not an allowed tag ({ALLOWED_TAGS})"),
        ("{% ssi '/etc/passwd' %}", f"{{% ssi %}} is not an allowed tag ({ALLOWED_TAGS})"),
        (
            "{{ voter.__class__ }}",
            "Variables and attributes may not begin with underscores: 'voter.__class__'",
        ),
    ],
)
def test_a_template_cannot_reach_outside_its_context(source, problem):
    with pytest.raises(VariantTemplateError) as caught:
        compile_template(f"Hello\n{source}", html=False, variant="gotv", field="body")

    assert str(caught.value) == f"variant 'gotv', body line 2: {problem}"


def test_a_filter_outside_the_allow_list_is_an_error():
    with pytest.raises(
        VariantTemplateError, match=r"^variant 'gotv', body line 1: Invalid filter: 'pprint'"
    ):
        compile_template("{{ voter.first_name|pprint }}", html=False, variant="gotv", field="body")


def test_a_render_error_names_the_variant_and_line():
    variant = MessageVariant(name="gotv", body="Hi\n{{ voter.first_name|wordwrap:'x' }}")
    compiled = variant.compiled()

    with pytest.raises(VariantTemplateError) as caught:
        compiled.render(
            message_context(first_name="A", polling_place="", talking_points=(), sender="")
        )

    assert str(caught.value).startswith("variant 'gotv', body line 2: invalid literal for int()")


@pytest.mark.django_db
def test_a_bad_template_is_a_validation_error_at_save_and_nothing_is_saved(campaign):
    with_identity(campaign)  # an email variant also needs the campaign's sender identity
    with pytest.raises(ValidationError) as caught:
        create_variant(
            campaign=campaign,
            name="welcome",
            channel="email",
            subject="Hi {{ voter.first_name }}",
            body="Plain",
            html_body="<p>Hi</p>\n<p>{{ settings.SECRET_KEY }}</p>",
        )

    assert caught.value.message_dict == {
        "html_body": [
            f"variant 'welcome', HTML body line 2: {{{{ settings.SECRET_KEY }}}} {OUTSIDE}"
        ]
    }
    assert MessageVariant.objects.count() == 0


@pytest.mark.django_db
def test_a_syntax_error_at_save_names_the_variant_and_line(campaign):
    with pytest.raises(ValidationError) as caught:
        create_variant(campaign=campaign, name="doors", channel="door", body="Hi\n\n{% if %}")

    assert caught.value.message_dict == {
        "body": ["variant 'doors', body line 3: Unexpected end of expression in if tag."]
    }
    assert MessageVariant.objects.count() == 0
