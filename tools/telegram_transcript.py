"""A fixed Telegram conversation through `rashut run` (polling), against the Bot API emulator, printed
as one JSON line per Bot API call the bot made (polling and start-up calls left out).

    python tools/telegram_transcript.py <checkout> > calls.jsonl

Run it on two checkouts and diff the outputs to see exactly what a change did to what users
receive (18 steps: questions, a clarify, buttons, browsing, curator commands, an unknown decision).
The checkout's own emulator and bot are used; the current interpreter must have their dependencies.
"""
import asyncio, json, os, shutil, subprocess, sys, tempfile, time
repo = sys.argv[1]
sys.path.insert(0, repo)
from tests.botapi.server import BotApiEmulator
TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz012345"
CURATOR = 777000111
SCRIPT = [("text", 5001, "/start"), ("text", 5001, "מה התקציב של החלטה 4321?"), ("press", 5001, 0),
          ("text", 5002, "ביטוח של המשלחת שלנו בשבוע הבא"), ("press", 5002, 0), ("text", 5003, "/decisions"),
          ("press", 5003, 0), ("text", 5004, "/help"), ("text", 5005, "/visits"), ("press", 5005, 0),
          ("text", 5006, "איפה מחדשים רישיון לכלב?"), ("text", CURATOR, "/unanswered"), ("text", CURATOR, "/stats"),
          ("text", 5007, "/decision 4321"), ("text", 5008, "/search ביטוח"), ("text", 5009, "תודה רבה"),
          ("text", 5010, "/reload"), ("text", 5011, "מה התקציב של החלטה 9999")]
async def main():
    with BotApiEmulator(TOKEN).running() as emu, tempfile.TemporaryDirectory() as tmp:
        kb = os.path.join(tmp, "kb"); shutil.copytree(os.path.join(repo, "tests/e2e/fixtures/kb"), kb)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM","WEBHOOK","RASHUT","CURATOR","WHATSAPP"))}
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emu.base_url, TELEGRAM_POLL_TIMEOUT="1",
                   RASHUT_KB=kb, RASHUT_DB=os.path.join(tmp, "r.db"), CURATOR_IDS=str(CURATOR), RASHUT_HASH_KEY="t",
                   RASHUT_WATCH_KB="0", XDG_DATA_HOME=tmp, PYTHONPATH=repo)
        py = os.path.join(repo, ".venv/bin/python") if os.path.exists(os.path.join(repo, ".venv/bin/python")) else sys.executable
        bot = subprocess.Popen([py, "-m", "bot", "run"], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            t = time.time()
            while not emu.calls("getUpdates", ok=True):
                await asyncio.sleep(0.1)
                assert time.time() - t < 60
            last = {}
            for kind, user, arg in SCRIPT:
                since = emu.mark()
                if kind == "text":
                    emu.push_private_text(user, arg)
                else:
                    call = last[user]; data = call.callback_data()[arg]
                    emu.push_update(emu.callback_query(user, call.result, data))
                c = await emu.wait_for("sendMessage", lambda c: c.chat_id == user, 20, since=since)
                await asyncio.sleep(0.3)
                last[user] = c
            await asyncio.sleep(0.5)
            for c in emu.calls():
                if c.method in ("getUpdates", "getMe", "deleteWebhook", "setWebhook", "close", "logOut"):
                    continue
                p = {k: v for k, v in c.params.items() if k not in ("callback_query_id",)}
                print(json.dumps({"method": c.method, "params": p}, ensure_ascii=False, sort_keys=True))
        finally:
            bot.terminate(); bot.wait(20)
asyncio.run(main())
