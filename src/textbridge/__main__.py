from textbridge.cli import app

app(prog_name="textbridge")
