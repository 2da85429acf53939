"""WTForms for /admin; Flask-WTF adds the CSRF token to each."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class SignInForm(FlaskForm):
    """User name and password."""

    login = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


class SilenceForm(FlaskForm):
    """Matchers, how long, and why."""

    matchers = StringField("Matchers", validators=[DataRequired(), Length(max=500)],
                           description="name=value pairs, comma-separated, e.g. alertname=DiskFull,host=web-01")
    duration = StringField("Duration", default="1h", validators=[DataRequired(), Length(max=16)],
                           description="e.g. 30m, 2h, 1d")
    comment = StringField("Comment", validators=[Optional(), Length(max=500)])


class ArticleForm(FlaskForm):
    """An article; `version` is the one the editor started from (a later save in between is refused)."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    tags = StringField("Tags", validators=[Optional(), Length(max=300)], description="comma-separated")
    body = TextAreaField("Text (markdown)", validators=[DataRequired(), Length(max=100_000)])
    version = HiddenField()


class ConsoleForm(FlaskForm):
    """Whom to speak as, and what to say."""

    open_id = SelectField("Send as", validators=[DataRequired()])
    text = TextAreaField("Text", validators=[DataRequired(), Length(max=4000)])
