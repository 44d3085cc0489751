"""`plot_plan(plan, "plan.svg")`: the arena over time as a self-contained SVG.

x is the execution step, y the byte offset in the arena (0 at the top); each buffer is a box
from its first to its last step and from its offset to offset + size, labelled with its value
id when it is large enough to hold the text (the full id, size and steps are in its tooltip).
Buffers written in place of another share its colour. Written by hand: no plotting library.
"""
from __future__ import annotations

import colorsys
import html
from pathlib import Path
from typing import Dict, List, Union

from .memory_plan import MemoryPlan

__all__ = ["plot_plan", "plan_svg"]

_W, _H = 960, 560
_LEFT, _TOP, _RIGHT, _BOTTOM = 90, 50, 20, 60


def _colour(k: int) -> str:
    r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, 0.72, 0.55)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def plan_svg(plan: MemoryPlan, title: str = "") -> str:
    """The SVG text for `plan`."""
    steps = max(len(plan.steps), 1)
    arena = max(plan.arena_bytes, 1)
    pw, ph = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    sx = pw / steps
    sy = ph / arena
    root: Dict[str, str] = {}
    for k in plan.buffers:
        src = plan.inplace_of.get(k)
        root[k] = root.get(src, src) if src is not None else k
    colours: Dict[str, str] = {}
    out: List[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_LEFT}" y="22" font-size="14" font-weight="bold">'
        f'{html.escape(title or "memory plan @" + plan.func)}</text>',
        f'<text x="{_LEFT}" y="38">arena {_bytes(plan.arena_bytes)}, lower bound '
        f'{_bytes(plan.lower_bound_bytes)}, no reuse {_bytes(plan.no_reuse_bytes)}, '
        f'{len(plan.buffers)} buffers, {len(plan.inplace_of)} in place</text>',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{pw}" height="{ph}" fill="#f7f7f7" '
        'stroke="#888"/>',
    ]
    for i in range(5):
        y = _TOP + ph * i / 4
        out.append(f'<line x1="{_LEFT - 4}" y1="{y:.1f}" x2="{_LEFT + pw}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{_bytes(arena * i / 4)}</text>')
    tick = max(1, steps // 12)
    for s in range(0, steps, tick):
        x = _LEFT + (s + 0.5) * sx
        out.append(f'<text x="{x:.1f}" y="{_TOP + ph + 14}" text-anchor="middle">{s}</text>')
    out.append(f'<text x="{_LEFT + pw / 2}" y="{_H - 18}" text-anchor="middle">execution step'
               '</text>')
    out.append(f'<text x="16" y="{_TOP + ph / 2}" transform="rotate(-90 16 {_TOP + ph / 2})" '
               'text-anchor="middle">arena offset</text>')
    for k, b in plan.buffers.items():
        c = colours.setdefault(root[k], _colour(len(colours)))
        x = _LEFT + b.first_step * sx
        w = (b.last_step - b.first_step + 1) * sx
        y = _TOP + b.offset * sy
        h = max(b.size * sy, 0.5)
        tip = (f"{k}: {b.size} B at offset {b.offset}, steps {b.first_step}-{b.last_step}"
               + (f", in place of {plan.inplace_of[k]}" if k in plan.inplace_of else ""))
        out.append(f'<g><title>{html.escape(tip)}</title><rect x="{x:.2f}" y="{y:.2f}" '
                   f'width="{w:.2f}" height="{h:.2f}" fill="{c}" stroke="#333" '
                   'stroke-width="0.6"/>')
        fit = int((w - 4) // 6.5)
        if h >= 12 and fit >= 2:
            out.append(f'<text x="{x + 3:.2f}" y="{y + min(h / 2 + 4, 13):.2f}">'
                       f'{html.escape(k[:fit])}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def plot_plan(plan: MemoryPlan, path: Union[str, Path], title: str = "") -> None:
    """Write the SVG picture of `plan` to `path`."""
    Path(path).write_text(plan_svg(plan, title), encoding="utf-8")
