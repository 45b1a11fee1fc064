"""`flask bot chat`: talk to the dialogue engine from the terminal."""
from __future__ import annotations

import click
from flask import current_app

from bot.dialogue import WELCOME, safe_reply
from bot.walkthrough import walkthrough
from core.cli_group import PlatformGroup

bot_cli = PlatformGroup("bot", help="The chat bot.")
bot_cli.add_command(walkthrough)


@bot_cli.command("chat")
@click.option("--user", default="terminal", show_default=True, help="Whose conversation this is.")
@click.option("-m", "--message", "messages", multiple=True, help="Say this instead of reading stdin (repeatable).")
def chat(user: str, messages: tuple[str, ...]) -> None:
    """Chat with the bot; an empty line or Ctrl-D ends."""
    dialogue = current_app.extensions["dialogue"]
    if messages:
        for text in messages:
            click.echo(f"> {text}\n{safe_reply(dialogue, user, text, 'cli').text}\n")
        return
    click.echo(WELCOME)
    while True:
        try:
            text = click.prompt("你", default="", show_default=False)
        except (EOFError, click.Abort):
            break
        if not text.strip():
            break
        click.echo(safe_reply(dialogue, user, text, "cli").text + "\n")
