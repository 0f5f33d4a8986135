"""Text bulletins (.txt, .md): bytes → str. UTF-8 (with or without BOM), GB18030, or UTF-16 with a BOM."""

from __future__ import annotations

import codecs

from qa.errors import BadBulletin

# Bytes below 0x20 other than tab, newline, vertical tab, form feed and carriage return.
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13})
_MAX_CONTROL_SHARE = 0.05


def decode_text(name: str, data: bytes) -> str:
    # Windows Notepad's "Unicode" is UTF-16 with a BOM; it is full of NULs, so check before the binary test.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise BadBulletin(f"{name}：无法识别文本编码（应为 UTF-8 或 GB18030）") from None
    sample = data[:65536]
    control_share = sum(sample.count(byte) for byte in _CONTROL_BYTES) / len(sample)
    if b"\x00" in data or control_share > _MAX_CONTROL_SHARE:
        raise BadBulletin(f"{name} 像是二进制文件，不是文本")
    for encoding in ("utf-8-sig", "gb18030"):  # gb18030 is a superset of GBK/GB2312
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadBulletin(f"{name}：无法识别文本编码（应为 UTF-8 或 GB18030）")
