"""Every Hebrew text the bot sends, in one place so they can be reviewed together."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .replies import Citation

BOT_NAME = "רשות"

WELCOME = (
    "שלום! אני רשות 🏛️ – עוזר לעובדי רשויות מקומיות.\n"
    "אפשר לשאול אותי על החלטות ממשלה ועל סעיפיהן, על אירוח משלחות מקצועיות מחו\"ל, "
    "ועל שלבים של תכניות ממשלתיות ותכניות של עמותות.\n"
    "כל תשובה מגיעה עם המקור שלה. כשאני לא יודע – אני אומר, והשאלה עוברת לצוות שמעדכן את הידע."
)
EXAMPLES_TITLE = "דוגמאות לשאלות:"
EXAMPLES = (
    "מה התקציב של החלטה 546?",
    "מי משלם על הטיסות של משלחת מחו\"ל?",
    "מה זה אשכול רשויות?",
    "מה קורה בשלב ההטמעה של קהילה מיטיבה?",
)
HELP = (
    "איך משתמשים:\n"
    "• פשוט כותבים שאלה, בלי צורך בניסוח מדויק.\n"
    "• /decisions – רשימת ההחלטות, /decision 546 – החלטה אחת וסעיפיה\n"
    "• /programmes – תכניות ושלביהן, /visits – צ'קליסט לאירוח משלחת\n"
    "• /search מילים – חיפוש חופשי\n"
    "בקבוצה: תייגו אותי, השיבו להודעה שלי, או כתבו /ask ושאלה."
)

SMALLTALK_GREETING = "שלום! 👋 במה אפשר לעזור? אפשר לשאול על החלטות ממשלה, אירוח משלחות ותכניות."
SMALLTALK_THANKS = "בשמחה! 🙂 אם יש עוד שאלה – אני כאן."
SMALLTALK_BYE = "להתראות! 👋"
SMALLTALK_ABOUT = (
    "אני רשות – בוט שעונה לעובדי רשויות מקומיות על החלטות ממשלה, אירוח משלחות ותכניות, "
    "מתוך מאגר ידע שאנשי מקצוע מתחזקים. כל תשובה מגיעה עם המקור שלה. במה אפשר לעזור?"
)
EMPTY_QUESTION = "לא הצלחתי לקרוא שאלה בהודעה. כתבו במילים מה תרצו לדעת, למשל: מה התקציב של החלטה 546?"

UNANSWERED_NOT_LOGGED = "עדיין אין לי תשובה בטוחה לשאלה הזאת. 🙏"
# Added only after the question is safely stored for the curators (never claimed otherwise).
QUEUED_NOTE = "העברתי את השאלה לצוות שמעדכן את מאגר הידע, כדי שבפעם הבאה תהיה תשובה."
UNANSWERED = UNANSWERED_NOT_LOGGED + "\n" + QUEUED_NOTE
# A question closer to a subject the curators marked as outside the base than to any entry.
OUT_OF_SCOPE = ("זה נושא שאין לי עליו מידע במאגר ({subject}). אני עונה על החלטות ממשלה לרשויות, "
                "אירוח משלחות מקצועיות ותכניות כמו קהילה מיטיבה ומעגלים בנגב.")
UNKNOWN_DECISION = "החלטה {numbers} עדיין לא נמצאת במאגר שלי. ההחלטות שאני מכיר: {known}."
UNKNOWN_NUMBER = "לא מצאתי במאגר מידע על {numbers}. ייתכן שמדובר בהחלטה או בנתון שעוד לא הוזנו."
CLARIFY = "לא בטוח שהבנתי. התכוונתם לאחד מאלה?"
RELATED = "ראו גם:"
SOURCE = "מקור"
DECISION_LABEL = "החלטה"
CLAUSE_LABEL = "סעיף"
AS_OF = "נכון ל־"
DATE_LABEL = "מיום"

DECISIONS_TITLE = "החלטות הממשלה במאגר:"
DECISION_NOT_FOUND = "החלטה {number} לא נמצאת במאגר. ההחלטות שאני מכיר: {known}."
DECISION_USAGE = "כתבו מספר החלטה, למשל: /decision 546"
DECISION_CLAUSES = "הנושאים והסעיפים של ההחלטה:"
OFFICIAL_TITLE = "הכותרת הרשמית: {title}"
BUDGET_LINE = "תקציב: {budget}"
PERIOD_LINE = "תקופה: {period}"
LOCALITIES_LINE = "יישובים: {localities}"
MINISTRIES_LINE = "משרדים: {ministries}"
STEP_ENTRIES = "בשלב הזה:"
NEXT_WORD_HINT = "(כתבו: הבא)"
PROGRAMMES_TITLE = "תכניות במאגר:"
PROGRAMME_STAGES = "השלבים של התכנית:"
STAGE_TITLE = "שלב {order}: {name}"
NEXT_STAGE = "לשלב הבא ⬅️"
VISITS_TITLE = "אירוח ביקור מקצועי – לפי שלבים:"
PHASE_TITLE = "{name}"
NEXT_PHASE = "לשלב הבא ⬅️"
SEARCH_RESULTS = "תוצאות חיפוש:"
SEARCH_NONE = "לא מצאתי דבר שמתאים לחיפוש הזה."
SEARCH_USAGE = "כתבו מה לחפש, למשל: /search תקציב החלטה 2025"
ENTRY_NOT_FOUND = "הפריט הזה כבר לא קיים במאגר (אולי עודכן). נסו לשאול שוב במילים."
# Sent once to someone over the per-user question rate (then their messages wait for the window)
SLOW_DOWN = "רגע 🙂 הגיעו ממך הרבה שאלות בבת אחת. אענה שוב בעוד דקה – אפשר לשלוח אז את השאלה החשובה ביותר."
# A number right after a reply with options picks one; past the last one:
OPTION_OUT_OF_RANGE = "אין אפשרות {number}. אפשר לבחור מספר מ־1 עד {count}:"
REPEAT_OPTIONS = "אלה האפשרויות מההודעה הקודמת – אפשר לבחור מספר, או לשאול במילים אחרות:"
NO_NEXT_STEP = "אין שלב הבא להציג. אפשר לפתוח תכנית או אירוח משלחת ולעבור בין השלבים."

FEEDBACK_THANKS_UP = "תודה על המשוב! 👍"
FEEDBACK_THANKS_DOWN = "תודה, נעביר לצוות כדי לשפר את התשובה. 👎"
ERROR_APOLOGY = "אופס, משהו השתבש אצלי. 🙏 נסו שוב בעוד רגע."
GROUP_ASK_USAGE = "כתבו את השאלה אחרי הפקודה, למשל: /ask מה התקציב של החלטה 546"

# Curators
CURATOR_RELOAD_OK = "המאגר נטען מחדש: {entries} פריטים ב־{documents} מסמכים (גרסה {version})."
CURATOR_RELOAD_FAILED = "הטעינה נכשלה – ממשיכים עם המאגר הקודם. השגיאות:\n{errors}"
CURATOR_NO_OPEN = "אין שאלות פתוחות. 🎉"
CURATOR_STORE_DOWN = ("⚠️ מסד הנתונים לא זמין מאז {since} (UTC). הבוט ממשיך לענות; {waiting} רישומים ממתינים "
                      "לכתיבה כשיחזור.")
CURATOR_OPEN_TITLE = "שאלות פתוחות (מקובצות):"
CURATOR_STATS = (
    "סטטיסטיקה:\n"
    "שאלות: {total} | נענו: {answered} | הבהרה: {clarify} | לא נענו: {unanswered}\n"
    "שאלות פתוחות לטיפול: {open}\n"
    "משוב: 👍 {up} | 👎 {down}"
)


# The console chat (handlers/console)
CONSOLE_HINT = "(יציאה: Ctrl+D, Ctrl+C או /quit · /decisions · /programmes · /visits · /help · מספר בוחר מהאפשרויות)"
# Shown in Latin letters on purpose: in a terminal that reverses Hebrew, this line still reads right.
CONSOLE_BIDI_HINT = "Hebrew looks reversed? Run: rashut chat --visual  (or set RASHUT_CONSOLE_BIDI=visual)"
CONSOLE_BYE = "להתראות! 👋"

# Telegram adapter (handlers/telegram)
HELLO_NAME = "היי {name} 👋"
UNKNOWN_COMMAND = "אני לא מכיר את הפקודה הזאת. כתבו /help לרשימת הפקודות, או פשוט שאלו שאלה במילים."
BROWSE_DECISIONS = "📜 החלטות ממשלה"
BROWSE_PROGRAMMES = "🧭 תכניות ושלבים"
BROWSE_VISITS = "✈️ אירוח משלחות"
VOTE_UP = "👍 עזר"
VOTE_DOWN = "👎 לא עזר"
INLINE_OPEN_BOT = "לשאול את רשות בצ'אט פרטי"
INLINE_MORE_IN_BOT = "פתיחה בבוט"
CURATOR_RELOAD_TRUNCATED = "… (ועוד)"
# The public command menu (setMyCommands); curator commands are deliberately not listed.
COMMAND_MENU = (
    ("start", "פתיחה ודוגמאות"),
    ("help", "איך משתמשים"),
    ("decisions", "רשימת החלטות הממשלה"),
    ("decision", "החלטה אחת וסעיפיה, למשל /decision 546"),
    ("programmes", "תכניות ושלביהן"),
    ("visits", "צ'קליסט לאירוח משלחת"),
    ("search", "חיפוש חופשי"),
    ("ask", "שאלה בקבוצה, למשל /ask מה התקציב של החלטה 546"),
)


def format_date(d: date | None) -> str:
    return f"{d.day}.{d.month}.{d.year}" if d else ""


def citation_parts(c: "Citation") -> tuple[str | None, str]:
    """The decision part ("החלטה 546 מיום 14.7.2013, סעיף 3(ב)") if any, and the source name with
    its date; each channel adds its own markup and the link."""
    dec = None
    if c.decision_number:
        dec = f"{DECISION_LABEL} {c.decision_number}"
        if c.decision_date:
            dec += f" {DATE_LABEL} {format_date(c.decision_date)}"
        if c.clause:
            dec += f", {CLAUSE_LABEL} {c.clause}"
    name = c.source_name + (f" ({AS_OF}{format_date(c.as_of)})" if c.as_of else "")
    return dec, name


def citation_text(c: "Citation") -> str:
    """One plain line, e.g. "📄 מקור: החלטה 546 מיום 14.7.2013, סעיף 3(ב) · CECI (נכון ל־1.1.2024) · https://..."""
    dec, name = citation_parts(c)
    parts = [p for p in (dec, name, c.url) if p]
    return f"📄 {SOURCE}: " + " · ".join(parts)


# Curators: the daily digest (bot.curation.digest_text)
DIGEST_TITLE = "📋 סיכום יומי לצוות הידע"
DIGEST_TRAFFIC = "ב־24 השעות האחרונות: {total} שאלות – נענו {answered}, הבהרה {clarify}, ללא תשובה {unanswered}."
DIGEST_NO_TRAFFIC = "ב־24 השעות האחרונות לא נשאלו שאלות."
DIGEST_OPEN = "בתור: {rows} שאלות פתוחות ב־{groups} קבוצות. הגדולות:"
DIGEST_GROUP = "• #{id} · {count} שאלות · {askers} שואלים – \"{example}\""
DIGEST_CANDIDATE = " (אולי: {title})"
DIGEST_DOWNVOTED = "👎 פריטים שקיבלו הכי הרבה משוב שלילי:"
DIGEST_DOWNVOTED_LINE = "• {title} ({id}): 👎 {down} · 👍 {up}"
DIGEST_HOWTO = "לטיפול: rashut unanswered list --grouped, ואז resolve / dismiss לפי מספר הקבוצה."

# Curators in Telegram: the grouped queue (/unanswered), its buttons, and messages to the curators
CURATOR_GROUPS_TITLE = "שאלות פתוחות: {rows} ב־{groups} קבוצות. הגדולות ({shown}):"
CURATOR_GROUP_HEAD = "{count} שאלות · {askers} שואלים"
CURATOR_GROUP_CANDIDATE = "הפריט הקרוב:"
CURATOR_GROUP_NO_CANDIDATE = "אין פריט קרוב"
CURATOR_GROUPS_DRAFT_HOWTO = "לקבוצה בלי פריט קרוב – טיוטה לפריט חדש: rashut unanswered resolve <מספר> --new drafts/new.yaml"
CURATOR_GROUPS_HOWTO = ("📎 מוסיף את שאלות הקבוצה לפריט הקרוב · 🗑 סוגר את הקבוצה (לא בתחום) · "
                        "/outofscope <מספר> <נושא> סוגר אותה ומלמד את הבוט שהנושא מחוץ למאגר")
CURATOR_ATTACH_BUTTON = "📎 #{id} {title}"
CURATOR_DISMISS_BUTTON = "🗑 #{id}"
CURATOR_ATTACHED = "קבוצה #{group}: נוספו {added} ניסוחים לפריט \"{title}\" ({entry}), {rows} שאלות בתור נסגרו. המאגר בגרסה {version}."
CURATOR_ATTACH_SKIPPED = "לא נוספו: {existing} כבר בפריט, {claimed} שייכים לפריט אחר, {too_long} ארוכים מדי."
CURATOR_ATTACHED_TOAST = "נוספו {added} ניסוחים ✅"
CURATOR_ATTACHED_NOT_LOADED = "השאלות נוספו לקובץ, אבל טעינת המאגר נכשלה – הבוט עדיין עונה מגרסה {version}."
CURATOR_DISMISSED = "קבוצה #{group} נסגרה: {rows} שאלות סומנו כלא בתחום."
CURATOR_DISMISSED_TOAST = "הקבוצה נסגרה 🗑"
CURATOR_ACTION_FAILED = "הפעולה לא בוצעה:"
CURATOR_OUT_OF_SCOPE_USAGE = "כתבו: /outofscope <מספר קבוצה> <נושא>, למשל: /outofscope 7 שכר ותנאי העסקה של עובדים"
CURATOR_OUT_OF_SCOPE_DONE = ("קבוצה #{group}: {added} שאלות נוספו לנושא \"{subject}\" שמחוץ למאגר, {rows} שאלות "
                             "בתור נסגרו. המאגר בגרסה {version}.")
CURATOR_OUT_OF_SCOPE_NOTHING = ("קבוצה #{group}: {rows} שאלות בתור נסגרו, אבל לא נוספה אף שאלה לנושא \"{subject}\" "
                                "(כבר ברשימה, שאלות של פריטים או ארוכות מדי), ולכן הנושא לא נוצר ולא השתנה.")
CURATOR_ACTION_FAILED_TOAST = "הפעולה לא בוצעה ⚠️"


# WhatsApp adapter (handlers/whatsapp)
WA_HELP = (
    "איך משתמשים:\n"
    "• פשוט כותבים שאלה, בלי צורך בניסוח מדויק.\n"
    "• החלטות – רשימת ההחלטות, /decision 546 – החלטה אחת וסעיפיה\n"
    "• תכניות – תכניות ושלביהן, משלחות – צ'קליסט לאירוח משלחת\n"
    "• /search מילים – חיפוש חופשי · מספר – בחירה מהאפשרויות האחרונות\n"
    "מקבוצת וואטסאפ: העבירו אליי את השאלה (Forward), והתשובה תגיע כאן."
)
WA_UNKNOWN_COMMAND = "אני לא מכיר את הפקודה הזאת. כתבו עזרה לרשימת האפשרויות, או פשוט שאלו שאלה במילים."
WA_TEXT_ONLY = "אני קורא רק הודעות טקסט 🙂 כתבו את השאלה במילים, למשל: מה התקציב של החלטה 546?"
WA_CHOOSE = "אפשר לבחור:"
WA_LIST_BUTTON = "לבחירה"
WA_OPTIONS_SECTION = "אפשרויות"
WA_MORE = "עוד ⬅️"
WA_RELATED_SECTION = "ראו גם"
WA_FEEDBACK_SECTION = "משוב"
WA_FEEDBACK_PROMPT = "האם התשובה עזרה?"
WA_SLOW_SEND = "התשובה מתעכבת בגלל עומס – היא תגיע בעוד רגע."
# Typed words that mean a command on WhatsApp and in the console (exactly the whole message)
COMMAND_WORDS = {
    "עזרה": "help", "תפריט": "help", "התחלה": "start",
    "החלטות": "decisions", "החלטות ממשלה": "decisions",
    "תכניות": "programmes", "תוכניות": "programmes",
    "משלחות": "visits", "אירוח משלחות": "visits",
}
# Curators on WhatsApp
WA_QUEUE_BUTTON = "קבוצות בתור"
WA_GROUP_ROW = "#{id} · {count} שאלות"
WA_GROUP_ATTACH = "📎 לפריט הקרוב"
WA_GROUP_DISMISS = "🗑 סגירה"
WA_GROUP_DETAIL = "קבוצה #{id}: {count} שאלות, {askers} שואלים.\n{examples}"
# /help as each channel's users type commands (Telegram's is HELP)
HELP_BY_CHANNEL = {"whatsapp": WA_HELP}

# answer quality: replies to messages that are not a question of their own (knowledge.intents),
# comparisons of two decisions, localities, and what the base knows and lacks
FILLER_HELP = ("לא בטוח למה הכוונה. 🙂 כתבו את השאלה במילים, למשל: מה התקציב של החלטה 546? "
               "או מי משלם על הטיסות של משלחת? (/help – מה אפשר לשאול)")
BARE_NUMBER = "לא הבנתי את המספר {number} לבד. התכוונתם להחלטה? ההחלטות שאני מכיר:"
WHICH_DECISION = "על איזו החלטה? אלה ההחלטות שבמאגר:"
COMPARE_TITLE = "השוואה בין החלטה {a} להחלטה {b}:"
COMPARE_DATE = "מיום"
COMPARE_BUDGET = "תקציב"
COMPARE_PERIOD = "תקופה"
COMPARE_LOCALITIES = "יישובים"
COMPARE_FOCUS = "במוקד"
COMPARE_UNKNOWN = "לא במאגר"
UNKNOWN_PLACE = ("במאגר שלי אין מידע על {places}: אף החלטה, סעיף או תכנית שבמאגר לא מזכירים אותו בשמו. "
                 "כדאי לבדוק בנוסח ההחלטה הרלוונטית או מול המשרד האחראי.")
# What the base has and lacks (knowledge.answerability.LACKING): the best entry is about the
# question's subject, but not the kind of fact asked. {title} is that entry's title.
LACKING = {
    "amount": "במאגר יש מידע על \"{title}\", אבל לא הסכום שנשאל עליו.",
    "number": "במאגר יש מידע על \"{title}\", אבל לא המספר שנשאל עליו.",
    "date": "במאגר יש מידע על \"{title}\", אבל לא התאריך שנשאל עליו.",
    "next": "המאגר מתעד את מה שהיה עד עדכונו האחרון, לא מועדים עתידיים. הקרוב ביותר במאגר: \"{title}\".",
    "now": "המאגר נכון למועד עדכונו ואינו יודע מה המצב היום. הקרוב ביותר במאגר: \"{title}\".",
    "done": "במאגר יש את מה שהוחלט ותוכנן (\"{title}\"), לא את מה שבוצע בפועל מאז.",
    "role": "במאגר יש מידע על \"{title}\", אבל לא מי ממלא את התפקיד שנשאל עליו.",
    "contact": "אין במאגר פרטי קשר כאלה. הקרוב ביותר במאגר: \"{title}\".",
}
PLACE_LIST_TITLE = "{place} במאגר"
PLACE_LIST = "אלה הפריטים במאגר שמזכירים את {place}:"
