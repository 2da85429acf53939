"""The comparison endpoint for scripts/bench/webhook.py: Flask that only answers 200."""
from flask import Flask

app = Flask(__name__)


@app.post("/webhook/feishu")
def feishu() -> tuple[str, int, dict[str, str]]:
    return '{"msg":"success"}', 200, {"Content-Type": "application/json"}
