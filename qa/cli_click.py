"""The `qa` command's own click classes: every error one Chinese line ("错误：…", exit code 2), click's
parsing errors in our words, and --help pages with Chinese headings."""

from __future__ import annotations

import re
import sys

import click

EXIT_NOT_FOUND = 1
EXIT_ERROR = 2


class Failure(click.ClickException):
    """A user's mistake or a refused action: one line, `错误：…`, exit code 2."""

    exit_code = EXIT_ERROR

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.message}", err=True)


def _usage_message(exc: click.UsageError) -> str:
    """Click's own parsing errors, in the words and the one-line form of ours."""
    command = exc.ctx.command_path if exc.ctx else "qa"
    hint = f"（{command} --help 查看用法）"
    if isinstance(exc, click.NoSuchOption):
        return f"没有这个选项：{exc.option_name}{hint}"
    if isinstance(exc, click.MissingParameter):
        return f"缺少参数 {exc.param.human_readable_name if exc.param else ''}{hint}"
    if isinstance(exc, click.BadParameter):
        name = exc.param.opts[0] if exc.param and exc.param.opts else (exc.param_hint or "")
        return f"参数 {name} 不合法：{_click_reason(exc.message)}{hint}"
    if "No such command" in exc.message:
        return f"没有这个命令：{exc.message.split(chr(39))[1] if chr(39) in exc.message else exc.message}{hint}"
    return f"{exc.message}{hint}"


_CLICK_REASONS = (
    (re.compile(r"^(?:File|Directory|Path) '(.*)' does not exist\.?$"), "{0} 不存在"),
    (re.compile(r"^(?:File|Path) '(.*)' is a directory\.?$"), "{0} 是文件夹"),
    (re.compile(r"^'(.*)' is not a valid integer(?: range)?\.?$"), "{0} 不是整数"),
    (re.compile(r"^'(.*)' is not a valid float(?: range)?\.?$"), "{0} 不是数字"),
)


def _click_reason(message: str) -> str:
    """click's words for a bad value, in ours (the ones our options can meet)."""
    for pattern, words in _CLICK_REASONS:
        match = pattern.match(message)
        if match:
            return words.format(*match.groups())
    return message


class _Formatter(click.HelpFormatter):
    """click's help pages with Chinese headings (click writes its own in English)."""

    HEADINGS = {"Options": "选项", "Commands": "命令", "Arguments": "参数"}

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args.replace("[OPTIONS]", "[选项]").replace("COMMAND [ARGS]...", "命令 [参数]..."),
                            prefix="用法：")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{self.HEADINGS.get(heading, heading)}：\n")


class _HelpContext(click.Context):
    formatter_class = _Formatter


class _ChineseHelp:
    """A command whose --help is in Chinese: headings, usage and the help option's own line."""

    context_class = _HelpContext

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = "显示本帮助并退出。"
        return option


class _Command(_ChineseHelp, click.Command):
    pass


class Group(_ChineseHelp, click.Group):
    """Runs a command and turns every click error into our one-line form."""

    command_class = _Command
    group_class = type  # subgroups are _Groups too

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            Failure(_usage_message(exc)).show()
            sys.exit(EXIT_ERROR)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("错误：已中止", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)
