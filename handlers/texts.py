"""Every user-facing sentence, in zh-CN and en, and the one place domain errors become words."""
from __future__ import annotations

from services.errors import DomainError

TEXTS: dict[str, dict[str, str]] = {
    "oops": {
        "zh-CN": "抱歉，系统开了个小差，这条消息没有处理成功。请稍后再试；如仍不行，请把编号 {ref} 告诉渠道经理。",
        "en": "Sorry, something went wrong and this message was not processed. Please try again later; "
              "if it persists, give your channel manager the reference {ref}.",
    },
    "unbound": {
        "zh-CN": "您好！您的账号还没有绑定经销商。请向渠道经理索取邀请码，然后发送「绑定 邀请码」，例如：绑定 8F3K2Q7A",
        "en": "Hello! This account is not bound yet. Ask your channel manager for an invite code, then send "
              "\"bind CODE\", e.g. bind 8F3K2Q7A",
    },
    "bind_usage": {"zh-CN": "请发送「绑定 邀请码」，例如：绑定 8F3K2Q7A", "en": "Send \"bind CODE\", e.g. bind 8F3K2Q7A"},
    "bound": {
        "zh-CN": "绑定成功！{name}，您的身份是{role}{where}。发送「帮助」查看可以做什么。",
        "en": "Bound! {name}, you are {role}{where}. Send \"help\" to see what you can do.",
    },
    "unknown": {
        "zh-CN": "没太明白您的意思。{hint}",
        "en": "Sorry, I did not understand that. {hint}",
    },
    "unknown_hint": {"zh-CN": "发送「帮助」查看常用指令。", "en": "Send \"help\" for the commands."},
    "unknown_choices": {
        "zh-CN": "没太明白您的意思。您是想：\n{choices}\n回复数字或点下方按钮即可，也可以直接说，例如{example}。",
        "en": "Sorry, I did not quite get that. Did you want to:\n{choices}\nReply with the number or tap a button, "
              "or just say it, e.g. {example}.",
    },
    "example.partner": {"zh-CN": "「报单 A100 20箱 28元 张三超市」", "en": "\"sale A100 20 cases 28 each to Lucky Mart\""},
    "example.manager": {"zh-CN": "「库存 P001」「我的报备」", "en": "\"stock P001\", \"claims\""},
    "choice.violations": {"zh-CN": "看违规和申诉", "en": "see violations and appeals"},
    "word.violations": {"zh-CN": "我的违规", "en": "violations"},
    "choice.sale": {"zh-CN": "报单（上报销售）", "en": "report a sale"},
    "choice.stock": {"zh-CN": "查库存", "en": "check stock"},
    "choice.count": {"zh-CN": "盘点库存", "en": "do a stocktake"},
    "choice.claim": {"zh-CN": "报备客户", "en": "claim a customer"},
    "choice.claims": {"zh-CN": "看我的报备", "en": "see my claims"},
    "choice.rebate": {"zh-CN": "查返利进度", "en": "see rebate progress"},
    "choice.help": {"zh-CN": "看使用帮助", "en": "see the help"},
    "word.sale": {"zh-CN": "报单", "en": "sale"},
    "word.stock": {"zh-CN": "库存", "en": "stock"},
    "word.count": {"zh-CN": "盘点", "en": "count"},
    "word.claim": {"zh-CN": "报备", "en": "claim"},
    "word.claims": {"zh-CN": "我的报备", "en": "claims"},
    "word.rebate": {"zh-CN": "返利", "en": "rebate"},
    "word.help": {"zh-CN": "帮助", "en": "help"},
    "no_slash": {
        "zh-CN": "没有 /{name} 这个命令。可用的管理命令：{names}",
        "en": "There is no /{name} command. Admin commands: {names}",
    },
    "cancelled": {"zh-CN": "好的，已取消。", "en": "OK, cancelled."},
    "nothing_to_cancel": {"zh-CN": "当前没有需要取消的操作。", "en": "There is nothing to cancel."},
    "nothing_to_confirm": {"zh-CN": "当前没有需要确认的内容。", "en": "There is nothing to confirm."},
    "answer_plainly": {
        "zh-CN": "还有一笔等您确认。要保存请回复「确认」，不要了请回复「取消」。",
        "en": "Something is still waiting for you. Reply \"yes\" to save it or \"no\" to drop it.",
    },
    "draft_not_saved": {
        "zh-CN": "这笔报单还没保存，之前的报单都没有改动。要修改请直接发送改好的完整内容"
                 "（例如「报单 A100 5箱 28元 张三超市」），不要了请回复「取消」。",
        "en": "This sale is not saved yet, and no earlier sale was changed. To change it, send the corrected "
              "message in full (e.g. \"sale A100 5 cases 28 each to Lucky Mart\"), or reply \"no\" to drop it.",
    },
}

ROLE_NAMES = {
    "member": {"zh-CN": "业务员", "en": "member"},
    "owner": {"zh-CN": "老板", "en": "owner"},
    "manager": {"zh-CN": "渠道经理", "en": "channel manager"},
    "admin": {"zh-CN": "管理员", "en": "admin"},
}

ERRORS: dict[str, dict[str, str]] = {
    "not_allowed": {"zh-CN": "抱歉，您没有权限进行这个操作。", "en": "Sorry, you are not allowed to do that."},
    "not_found": {"zh-CN": "没有找到{what}「{key}」，请检查后重试。", "en": "No {what} \"{key}\" was found; please check it."},
    "invalid_input": {"zh-CN": "输入有误：{reason}", "en": "Invalid input: {reason}"},
    "invite_invalid.unknown": {"zh-CN": "邀请码不正确，请核对后重新发送（不区分大小写）。",
                               "en": "That invite code is not valid; please check it (case does not matter)."},
    "invite_invalid.used": {"zh-CN": "这个邀请码已经被使用过了，请向渠道经理重新索取。",
                            "en": "That invite code has already been used; please ask for a new one."},
    "invite_invalid.expired": {"zh-CN": "这个邀请码已过期，请向渠道经理重新索取。",
                               "en": "That invite code has expired; please ask for a new one."},
    "already_bound": {"zh-CN": "您的账号已经绑定过了，无需再次绑定。", "en": "This account is already bound."},
    "not_bound": {"zh-CN": TEXTS["unbound"]["zh-CN"], "en": TEXTS["unbound"]["en"]},
    "nothing_to_undo": {"zh-CN": "没有可撤销或更正的报单（只能处理 {hours} 小时内您自己的报单）。",
                        "en": "There is no sale to undo or correct (only your own, within {hours} hours)."},
    "future_date": {"zh-CN": "日期 {date} 还没到，报单只能报已经发生的销售。", "en": "{date} is in the future."},
    "not_allowed.sale": {"zh-CN": "只有经销商的人员可以报单。", "en": "Only a partner's people can report sales."},
    "not_allowed.claim_submit": {"zh-CN": "只有经销商的人员可以报备客户。", "en": "Only a partner's people can claim customers."},
    "not_allowed.claim_decide": {"zh-CN": "抱歉，只有负责该经销商所在区域的渠道经理可以审批这条报备。",
                                 "en": "Only a channel manager of the partner's region can decide this claim."},
    "not_allowed.claim_own": {"zh-CN": "只能操作本公司的报备。", "en": "You can only do that with your own partner's claims."},
    "not_allowed.claim_partner_only": {
        "zh-CN": "延期和释放由经销商的人员发起；渠道经理请用「同意延期 #编号」「拒绝延期 #编号」审批延期。",
        "en": "Extensions and releases come from the partner; managers answer with \"approve extension #N\"."},
    "claim_state": {"zh-CN": "报备 #{id} 当前的状态不能这样操作。", "en": "Claim #{id} cannot be changed that way now."},
    "claim_extension_pending": {"zh-CN": "报备 #{id} 已经申请过延期，正在等待渠道经理审批。",
                                "en": "Claim #{id} already has an extension request waiting."},
    "not_allowed.violation_appeal": {"zh-CN": "申诉由经销商的人员发起；渠道经理请用「裁定 编号 撤销|维持」。",
                                     "en": "Appeals come from the partner; managers answer with \"resolve ID clear|uphold\"."},
    "not_allowed.violation_own": {"zh-CN": "只能申诉本公司的违规。", "en": "You can only appeal your own partner's violations."},
    "not_allowed.violation_decide": {"zh-CN": "抱歉，只有负责该经销商所在区域的渠道经理可以裁定这条违规。",
                                     "en": "Only a channel manager of the partner's region can decide this violation."},
}

WHAT = {"partner": {"zh-CN": "经销商", "en": "partner"}, "user": {"zh-CN": "用户", "en": "user"},
        "sku": {"zh-CN": "商品", "en": "SKU"}, "claim": {"zh-CN": "报备", "en": "claim"},
        "rebate_scheme": {"zh-CN": "返利方案", "en": "rebate scheme"},
        "violation": {"zh-CN": "违规", "en": "violation"}}


def _lang(locale: str) -> str:
    return "en" if locale.startswith("en") else "zh-CN"


def t(key: str, locale: str = "zh-CN", **kw) -> str:
    return TEXTS[key][_lang(locale)].format(**kw)


def role_name(role: str, locale: str = "zh-CN") -> str:
    return ROLE_NAMES.get(role, {}).get(_lang(locale), role)


def error_text(exc: DomainError, locale: str = "zh-CN") -> str:
    """The polite sentence for a domain error; the catalogue may be extended by later modules."""
    lang = _lang(locale)
    facts = dict(exc.facts)
    key = exc.code
    if key == "invite_invalid":
        key = f"invite_invalid.{facts.get('why', 'unknown')}"
    if key == "not_allowed" and f"not_allowed.{facts.get('what')}" in ERRORS:
        key = f"not_allowed.{facts['what']}"
    if "what" in facts:
        facts["what"] = WHAT.get(facts["what"], {}).get(lang, facts["what"])
    facts.setdefault("key", "")
    facts.setdefault("reason", "")
    template = ERRORS.get(key, {}).get(lang)
    if template is None:
        return ERRORS["invalid_input"][lang].format(reason=facts.get("reason") or exc.code)
    return template.format(**facts)
