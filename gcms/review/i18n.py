"""The interface's words in English and Arabic (Arabic pages are laid out right to left).

The workstation's own labels live here. Verdicts, criterion names, criterion results
and substance names take the report's wording of that language (:mod:`gcms.report.i18n`),
so that the screen and the report say the same; sentences the batch wrote and reasons
people gave are shown as recorded. A missing Arabic label falls back to the English one,
so a new label never breaks a page.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["DIRECTION", "LANGUAGES", "recorded_word", "substance_name", "translate"]

#: Interface languages and their names in themselves.
LANGUAGES: dict[str, str] = {"en": "English", "ar": "العربية"}
#: Writing direction of each language (the ``dir`` of the page).
DIRECTION: dict[str, str] = {"en": "ltr", "ar": "rtl"}

_EN: dict[str, str] = {
    "app": "gcms review workstation",
    "sign_in": "Sign in", "sign_out": "Sign out", "user": "User", "password": "Password",
    "bad_login": "Wrong user or password, or the user may not sign in.",
    "locked": "Too many failed sign-ins for this user: try again in 15 minutes.",
    "queue": "Work queue", "cases": "Cases", "qa": "QA dashboard", "language": "Language",
    "case": "Case", "exhibit": "Exhibit", "exhibits": "Exhibits", "runs": "Injections",
    "run": "Injection", "file": "File", "sample": "Sample", "summary": "Summary",
    "version": "Version", "state": "State", "open": "Open", "nothing": "Nothing here.",
    "chromatogram": "Chromatogram", "time": "Retention time (min)", "abundance": "Abundance",
    "components": "Components", "component": "Component", "rt": "RT (min)", "ri": "RI",
    "area": "Area", "purity": "Purity", "verdict": "Verdict", "substance": "Substance",
    "mf": "MF", "rmf": "RMF", "spectrum": "Spectrum vs library and standard",
    "relative": "Relative abundance (%)", "hits": "Hit list", "rank": "Rank",
    "criteria": "Criteria", "criterion": "Criterion", "result": "Result", "value": "Value",
    "limit": "Limit", "sentence": "Sentence", "pick_ions": "Extracted ions (m/z, comma "
    "separated)", "show": "Show", "blank": "Blank before it", "ladder": "Alkane ladder",
    "none": "none", "evidence_ok": "run bytes match the SHA-256 the store recorded",
    "evidence_bad": "run bytes do not match the store's SHA-256", "evidence_missing":
    "run file not reachable from here", "decisions": "Decisions", "reason": "Reason",
    "decide": "Verdict decision", "accept": "Accept", "reject": "Reject",
    "override": "Override", "new_verdict": "New verdict", "review": "Review outcome",
    "approved": "Approved", "returned": "Returned to the analyst", "comments": "Comments",
    "key_file": "Key file", "passphrase": "Passphrase", "sign": "Sign",
    "signatures": "Signatures", "meaning": "Meaning", "signer": "Signer", "at": "At",
    "reviews": "Reviews", "report": "Report", "issue_report": "Issue the report",
    "languages": "Languages", "reports": "Reports", "status": "Status",
    "instrument": "Instrument", "quantitation": "Quantitation",
    "concentration": "Concentration", "uncertainty": "Uncertainty (k=2)", "flags": "Flags",
    "history": "Decision history", "done": "Done.", "refused": "Refused",
    "not_available": "Not available in this installation yet", "submit": "Submit",
    "sequence_runs": "Runs of the sequence", "standard": "Same-sequence standard",
    "library": "Library", "reintegrate": "Re-integrate", "start": "Start (min)",
    "end": "End (min)", "download": "Download",
    "qa_failures": "QA failures and the exhibits they withheld", "tune": "Tune",
    "check": "Check standard", "westgard": "Westgard flags",
    "warning_key": "The key file and passphrase are used for this one signature and "
    "never kept.",
    "rescreening": "Re-screening", "rescreen_lead": "Leads found by searching the stored "
    "components again against a newer library: confirm against a reference standard "
    "before reporting. Issued results are unchanged.",
    "screened_by": "Screened by", "screened_at": "Screened (UTC)",
    "library_hash": "Library SHA-256", "already_reported": "Already in the issued result",
    "yes": "yes", "no": "no", "controlled": "Controlled",
}

_AR: dict[str, str] = {
    "app": "محطة مراجعة gcms",
    "sign_in": "تسجيل الدخول", "sign_out": "تسجيل الخروج", "user": "المستخدم",
    "password": "كلمة المرور",
    "bad_login": "اسم المستخدم أو كلمة المرور غير صحيحة، أو لا يحق للمستخدم الدخول.",
    "locked": "محاولات دخول فاشلة كثيرة لهذا المستخدم: أعد المحاولة بعد 15 دقيقة.",
    "queue": "قائمة العمل", "cases": "القضايا", "qa": "لوحة ضبط الجودة", "language": "اللغة",
    "case": "القضية", "exhibit": "الحرز", "exhibits": "الأحراز", "runs": "الحقن",
    "run": "الحقنة", "file": "الملف", "sample": "العينة", "summary": "الملخص",
    "version": "الإصدار", "state": "الحالة", "open": "فتح", "nothing": "لا شيء هنا.",
    "chromatogram": "الكروماتوجرام", "time": "زمن الاحتباس (دقيقة)", "abundance": "الوفرة",
    "components": "المكونات", "component": "المكون", "rt": "زمن الاحتباس (دقيقة)",
    "ri": "مؤشر الاحتباس", "area": "المساحة", "purity": "النقاوة", "verdict": "الحكم",
    "substance": "المادة", "mf": "MF", "rmf": "RMF",
    "spectrum": "الطيف مقابل المكتبة والمعيار", "relative": "الوفرة النسبية (%)",
    "hits": "قائمة النتائج", "rank": "الترتيب", "criteria": "المعايير",
    "criterion": "المعيار", "result": "النتيجة", "value": "القيمة", "limit": "الحد",
    "sentence": "العبارة", "pick_ions": "الأيونات المستخلصة (m/z مفصولة بفواصل)",
    "show": "عرض", "blank": "العينة الفارغة قبلها", "ladder": "سلسلة الألكانات",
    "none": "لا يوجد", "evidence_ok": "بيانات الحقنة مطابقة لبصمة SHA-256 المسجلة",
    "evidence_bad": "بيانات الحقنة لا تطابق بصمة SHA-256 المسجلة",
    "evidence_missing": "ملف الحقنة غير متاح من هنا", "decisions": "القرارات",
    "reason": "السبب", "decide": "قرار الحكم", "accept": "قبول", "reject": "رفض",
    "override": "تعديل الحكم", "new_verdict": "الحكم الجديد", "review": "نتيجة المراجعة",
    "approved": "معتمد", "returned": "أعيد إلى المحلل", "comments": "ملاحظات",
    "key_file": "ملف المفتاح", "passphrase": "عبارة المرور", "sign": "توقيع",
    "signatures": "التوقيعات", "meaning": "المعنى", "signer": "الموقّع", "at": "الوقت",
    "reviews": "المراجعات", "report": "التقرير", "issue_report": "إصدار التقرير",
    "languages": "اللغات", "reports": "التقارير", "status": "الحالة",
    "instrument": "الجهاز", "quantitation": "التقدير الكمي", "concentration": "التركيز",
    "uncertainty": "عدم اليقين (k=2)", "flags": "ملاحظات", "history": "سجل القرارات",
    "done": "تم.", "refused": "مرفوض", "not_available": "غير متاح في هذا الإصدار بعد",
    "submit": "إرسال", "sequence_runs": "حقن التسلسل", "standard": "المعيار من نفس التسلسل",
    "library": "المكتبة", "reintegrate": "إعادة التكامل", "start": "البداية (دقيقة)",
    "end": "النهاية (دقيقة)", "download": "تنزيل",
    "qa_failures": "إخفاقات ضبط الجودة والأحراز التي حجبتها", "tune": "الضبط",
    "check": "المعيار الرقابي", "westgard": "إنذارات وستغارد",
    "warning_key": "يُستخدم ملف المفتاح وعبارة المرور لهذا التوقيع فقط ولا يُحفظان.",
    "rescreening": "إعادة الفحص", "rescreen_lead": "مؤشرات وُجدت بإعادة البحث في المكونات "
    "المحفوظة مقابل مكتبة أحدث: يجب التأكيد بمعيار مرجعي قبل إدراجها في التقرير. "
    "النتائج الصادرة لم تتغير.",
    "screened_by": "أجرى الفحص", "screened_at": "وقت الفحص (UTC)",
    "library_hash": "بصمة المكتبة SHA-256", "already_reported": "مذكورة في النتيجة الصادرة",
    "yes": "نعم", "no": "لا", "controlled": "خاضعة للرقابة",
}

_TEXT = {"en": _EN, "ar": _AR}


def translate(language: str, key: str) -> str:
    """The label ``key`` in ``language`` (English when that language lacks it)."""
    return _TEXT.get(language, _EN).get(key) or _EN.get(key, key)


@functools.lru_cache(maxsize=4)
def _report_wording(language: str) -> Any:
    from gcms.errors import GcmsError
    from gcms.report.i18n import load_wording

    try:
        return load_wording(language)
    except GcmsError:
        return None


def recorded_word(language: str, kind: str, value: Any) -> str:
    """A recorded term (``verdict``, ``criterion``, ``result``) in ``language``.

    English shows the term as recorded; another language takes the report's own wording
    of it (``gcms/report/translations``, e.g. ``verdict_not_identified``), so that the
    screen and the report say the same; a term the wording lacks is shown as recorded.
    """
    text = "" if value is None else str(value)
    if language == "en" or not text:
        return text
    wording = _report_wording(language)
    key = f"{kind}_{text.replace(' ', '_')}"
    if wording is None or key not in wording.text:
        return text
    return str(wording.text[key])


def substance_name(language: str, name: Any) -> str:
    """A substance's name in ``language`` with the library's beside it (report wording)."""
    text = "" if name is None else str(name)
    if language == "en" or not text:
        return text
    wording = _report_wording(language)
    return text if wording is None else wording.substance(text)
