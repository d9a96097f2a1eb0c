"""Colour of a PDF page from its content streams, where that is exact; otherwise what to render.

The truth is the rendering (:mod:`.pdf`): a page is colour when pdfium, at the page's
render scale, gives it a pixel whose channels are more than the tolerance apart. This
module reads the operators of the page (its content streams, the Form XObjects and images
they paint, and its annotations' appearance streams) with pikepdf and answers one of

- :data:`MONO`: every colour that is ever used to paint is neutral - DeviceGray, DeviceRGB
  with three equal components, DeviceCMYK with C = M = Y = 0, greyscale images and
  shadings - and nothing can turn a neutral into a colour (no transfer functions, no
  blend modes, no Default colour spaces, no Type 3 fonts, no transparency groups in another
  colour space). Blending neutrals gives neutrals, so no pixel can be colour;
- :data:`COLOR`: an opaque rectangle fill (``re f``) in a known, clearly non-neutral
  DeviceRGB/DeviceGray colour, unclipped, axis-aligned and covering whole pixels of the
  page, after which everything painted on the page has a known colour on the same side
  of neutral (all of them have a positive component along one hue direction, with margin).
  Any pixel inside the rectangle then ends as a convex mix of those colours, so it is
  non-neutral by more than the tolerance: the page is colour. Likewise a straight
  stroked segment (``m ... l ... S``) in such a colour, undashed, unclipped, drawn in a
  rotated and uniformly scaled space, at least a few pixels long and inside the page,
  with only neutral paint before it and same-side colours after: pdfium strokes no
  thinner than a pixel, so some pixel is at least a quarter stroke colour over a
  neutral background (see :func:`_proved_colour`);
- a :class:`Region` (in default user space): every non-neutral paint has a known bounding
  box (path fills and strokes, images), so only pixels inside their union can be colour;
  rendering that crop of the page decides, pixel for pixel as the full rendering would;
- :data:`FULL`: anything else (text, shadings or patterns in colour, unknown operators of
  colour, too deep or recursive forms, annotations without appearance streams...): render
  the whole page.

Every test here is one-sided: when in doubt the answer is a rendering, never a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

import pikepdf

MAX_FORM_DEPTH = 12
MAX_OPERATIONS = 200_000  # per page, all forms included; beyond: render
#: For the COLOR proof: at most this many paints may follow the rectangle (rounding slack).
MAX_LATER_PAINTS = 64


@dataclass(frozen=True, slots=True)
class Region:
    x0: float
    y0: float
    x1: float
    y1: float


class _Verdict:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


MONO = _Verdict("MONO")
COLOR = _Verdict("COLOR")
FULL = _Verdict("FULL")
Verdict = _Verdict | Region


class _Undecidable(Exception):
    """The page needs a full rendering."""


Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_NEUTRAL_GS_KEYS = frozenset(
    {"/Type", "/LW", "/LC", "/LJ", "/ML", "/D", "/RI", "/FL", "/SM", "/SA", "/AIS", "/TK",
     "/CA", "/ca", "/Font", "/HT", "/OP", "/op", "/OPM"}
)  # fmt: skip
_TEXT_SHOWS = frozenset({"Tj", "TJ", "'", '"'})
#: Operators that neither paint nor change anything read here (text positioning and
#: spacing, marked-content ends, compatibility sections, flatness, intent, line caps).
_NO_PAINT = frozenset(
    {"BT", "Td", "TD", "Tm", "T*", "TL", "Tc", "Tw", "Tz", "Ts", "EMC", "MP", "DP", "BX", "EX",
     "i", "ri", "J", "j"}
)  # fmt: skip
_PAINT_GS_KEYS = frozenset({"/Type", "/LW", "/LC", "/LJ", "/ML", "/D", "/RI", "/FL", "/SA"})
_DEVICE = {"/DeviceGray": "gray", "/G": "gray", "/DeviceRGB": "rgb", "/RGB": "rgb",
           "/DeviceCMYK": "cmyk", "/CMYK": "cmyk"}  # fmt: skip
_INITIAL = {"gray": (0.0,), "rgb": (0.0, 0.0, 0.0), "cmyk": (0.0, 0.0, 0.0, 1.0)}
# Hue directions u (summing to 0) and w: a colour's channel spread is >= (u . rgb) / w.
_DIRECTIONS = (
    ((2, -1, -1), 2), ((-1, 2, -1), 2), ((-1, -1, 2), 2),
    ((-2, 1, 1), 2), ((1, -2, 1), 2), ((1, 1, -2), 2),
    ((1, -1, 0), 1), ((0, 1, -1), 1), ((-1, 0, 1), 1),
    ((-1, 1, 0), 1), ((0, -1, 1), 1), ((1, 0, -1), 1),
)  # fmt: skip


@dataclass(slots=True)
class _Colour:
    space: str = "gray"  # gray, rgb, cmyk or other (unknown rendering)
    values: tuple[float, ...] = (0.0,)

    def neutral(self) -> bool:
        v = self.values
        if self.space == "gray":
            return True
        if self.space == "rgb":
            return len(v) == 3 and v[0] == v[1] == v[2]
        if self.space == "cmyk":
            return len(v) == 4 and v[0] == v[1] == v[2] == 0
        return False

    def rgb(self) -> tuple[float, float, float] | None:
        """The rendered colour in 0..255, when known exactly enough (gray and RGB)."""
        v = [min(1.0, max(0.0, x)) * 255 for x in self.values]
        if self.space == "gray" and len(v) == 1:
            return (v[0], v[0], v[0])
        if self.space == "rgb" and len(v) == 3:
            return (v[0], v[1], v[2])
        return None


@dataclass(slots=True)
class _State:
    ctm: Matrix = IDENTITY
    fill: _Colour = field(default_factory=_Colour)
    stroke: _Colour = field(default_factory=_Colour)
    line_width: float = 1.0
    miter: float = 10.0
    clipped: bool = False
    render_mode: int = 0
    type3: bool = False
    dashed: bool = False  # a dash pattern, stroke adjustment or unknown stroke parameters

    def copy(self) -> _State:
        return _State(
            self.ctm, self.fill, self.stroke, self.line_width, self.miter, self.clipped,
            self.render_mode, self.type3, self.dashed,
        )  # fmt: skip


def _paint_with(state: _State, op: str, colour: _Colour) -> None:
    """A colour operator sets the fill colour (lower case: g, rg, k, cs, sc, scn) or the
    stroke colour (upper case)."""
    if op.islower():
        state.fill = colour
    else:
        state.stroke = colour


@dataclass(slots=True)
class _Paint:
    rgb: tuple[float, float, float] | None  # None: unknown or several colours
    neutral: bool
    box: tuple[float, float, float, float] | None  # default user space; None: unknown
    rect: tuple[float, float, float, float] | None = None  # a COLOR-proof candidate
    line: tuple[float, float, float, float] | None = None  # a stroked segment, candidate too


def _num(value: object) -> float:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    raise _Undecidable


def _mul(m: Matrix, n: Matrix) -> Matrix:
    """m then n (PDF order: ``m`` is applied first)."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D,
            e * A + f * C + E, e * B + f * D + F)  # fmt: skip


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


def _bbox(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


class _Reader:
    def __init__(self, proof: bool) -> None:
        self.paints: list[_Paint] = []
        self.operations = 0
        self.proof = proof  # whether a COLOR proof may still be made on this page
        self.forms: list[tuple[int, int]] = []
        self._text_key: tuple[_Colour, _Colour, int, bool] | None = None
        self._text_paint: _Paint | None = None

    # -- resources ------------------------------------------------------------------

    @staticmethod
    def _resource(resources: pikepdf.Dictionary | None, kind: str, name: object) -> object:
        if resources is None:
            return None
        group = resources.get(kind)
        if not isinstance(group, pikepdf.Dictionary) or not isinstance(name, pikepdf.Name):
            return None
        return group.get(str(name))

    def _space(self, resources: pikepdf.Dictionary | None, name: object) -> str:
        if isinstance(name, pikepdf.Name) and str(name) in _DEVICE:
            return _DEVICE[str(name)]
        found = self._resource(resources, "/ColorSpace", name)
        if isinstance(found, pikepdf.Name) and str(found) in _DEVICE:
            return _DEVICE[str(found)]
        return "other"

    # -- content --------------------------------------------------------------------

    def run(
        self,
        instructions: list[pikepdf.ContentStreamInstruction | pikepdf.ContentStreamInlineImage],
        resources: pikepdf.Dictionary | None,
        state: _State,
        depth: int,
    ) -> None:
        if isinstance(resources, pikepdf.Dictionary):
            spaces = resources.get("/ColorSpace")
            if isinstance(spaces, pikepdf.Dictionary) and any(
                k in spaces for k in ("/DefaultGray", "/DefaultRGB", "/DefaultCMYK")
            ):
                raise _Undecidable
        else:
            resources = None
        stack: list[_State] = []
        path: list[tuple[float, float]] = []
        segments: list[tuple[float, float, float, float]] = []  # straight, default space
        pen: tuple[float, float] | None = None  # the end of the last m or l
        rects = 0
        other_segments = False
        clip_pending = False
        for instruction in instructions:
            self.operations += 1
            if self.operations > MAX_OPERATIONS:
                raise _Undecidable
            if isinstance(instruction, pikepdf.ContentStreamInlineImage):
                self._inline_image(instruction, state)
                continue
            op = str(instruction.operator)
            if op in _TEXT_SHOWS:  # the commonest operators first, without their operands
                self._text(state)
                continue
            if op in _NO_PAINT:
                continue
            operands = instruction.operands
            if op == "q":
                stack.append(state.copy())
                segments, pen = [], None  # (no stroke proof for a path across these)
            elif op == "Q":
                if stack:
                    state = stack.pop()
                segments, pen = [], None
            elif op == "cm":
                segments, pen = [], None
                if len(operands) != 6:
                    raise _Undecidable
                m = tuple(_num(v) for v in operands)
                state.ctm = _mul(m, state.ctm)  # type: ignore[arg-type]
            elif op == "w":
                if operands:
                    state.line_width = abs(_num(operands[0]))
            elif op == "M":
                if operands:
                    state.miter = max(1.0, abs(_num(operands[0])))
            elif op in ("g", "G", "rg", "RG", "k", "K"):
                space = {"g": "gray", "rg": "rgb", "k": "cmyk"}[op.lower()]
                colour = _Colour(space, tuple(_num(v) for v in operands))
                _paint_with(state, op, colour)
            elif op in ("cs", "CS"):
                if len(operands) != 1:
                    raise _Undecidable
                space = self._space(resources, operands[0])
                colour = _Colour(space, _INITIAL.get(space, ()))
                _paint_with(state, op, colour)
            elif op in ("sc", "scn", "SC", "SCN"):
                current = state.fill if op.islower() else state.stroke
                if current.space == "other" or any(
                    not isinstance(v, (int, Decimal)) for v in operands
                ):
                    colour = _Colour("other", ())
                else:
                    colour = _Colour(current.space, tuple(_num(v) for v in operands))
                _paint_with(state, op, colour)
            elif op in ("m", "l"):
                if len(operands) != 2:
                    raise _Undecidable
                point = _apply(state.ctm, _num(operands[0]), _num(operands[1]))
                if op == "l" and pen is not None:
                    segments.append((*pen, *point))
                path.append(point)
                pen = point
                other_segments = True
            elif op in ("c", "v", "y"):
                numbers = [_num(v) for v in operands]
                for i in range(0, len(numbers) - 1, 2):
                    path.append(_apply(state.ctm, numbers[i], numbers[i + 1]))
                other_segments = True
                pen = None
            elif op == "re":
                if len(operands) != 4:
                    raise _Undecidable
                x, y, w, h = (_num(v) for v in operands)
                path += [_apply(state.ctm, px, py) for px in (x, x + w) for py in (y, y + h)]
                rects += 1
                pen = None
            elif op == "h":
                pen = None
            elif op == "d":
                dashes = operands[0] if operands else None
                state.dashed = not (isinstance(dashes, pikepdf.Array) and len(dashes) == 0)
            elif op in ("W", "W*"):
                clip_pending = True
            elif op in ("f", "F", "f*", "S", "s", "B", "B*", "b", "b*", "n"):
                if op != "n" and path:
                    fill = op not in ("S", "s")
                    stroke = op not in ("f", "F", "f*")
                    single_rect = rects == 1 and not other_segments and op in ("f", "F")
                    lines = segments if op in ("S", "s") else []
                    self._paint_path(path, state, fill, stroke, single_rect, lines)
                if clip_pending:
                    state.clipped = True
                path, rects, other_segments, clip_pending = [], 0, False, False
                segments, pen = [], None
            elif op == "Tr":
                if operands:
                    state.render_mode = int(_num(operands[0]))
            elif op == "Tf":
                if operands:
                    font = self._resource(resources, "/Font", operands[0])
                    state.type3 = isinstance(font, pikepdf.Dictionary) and (
                        font.get("/Subtype") == pikepdf.Name.Type3
                    )
            elif op == "ET":
                if state.render_mode >= 4:
                    state.clipped = True
            elif op == "gs":
                self._ext_gstate(resources, operands, state)
            elif op == "Do":
                if len(operands) != 1:
                    raise _Undecidable
                xobject = self._resource(resources, "/XObject", operands[0])
                self._xobject(xobject, resources, state, depth)
            elif op == "sh":
                shading = self._resource(resources, "/Shading", operands[0] if operands else None)
                self._shading(shading, resources)
            elif op in ("BDC", "BMC"):
                if op == "BDC" and operands and operands[0] == pikepdf.Name.OC:
                    self.proof = False  # optional content may be hidden
            elif op in ("d0", "d1"):
                raise _Undecidable
        # operators not handled above (marked content, text state, dashes...) paint nothing

    def _paint_path(
        self,
        path: list[tuple[float, float]],
        state: _State,
        fill: bool,
        stroke: bool,
        single_rect: bool,
        segments: list[tuple[float, float, float, float]],
    ) -> None:
        box = _bbox(path)
        if stroke:
            # a stroke reaches at most half the width (times the miter limit) past the path
            m = state.ctm
            scale = max(abs(m[0]) + abs(m[2]), abs(m[1]) + abs(m[3]))
            grow = max(state.line_width, 1.0) * scale * state.miter + 2.0
            box = (box[0] - grow, box[1] - grow, box[2] + grow, box[3] + grow)
            if state.line_width * scale > 1000:
                box = None  # type: ignore[assignment]
        colours = ([state.fill] if fill else []) + ([state.stroke] if stroke else [])
        neutral = all(c.neutral() for c in colours)
        rgbs = {c.rgb() for c in colours}
        rgb = rgbs.pop() if len(rgbs) == 1 else None
        rect = None
        m = state.ctm
        if single_rect and not state.clipped and m[1] == 0 and m[2] == 0 and box is not None:
            rect = box
        line = None
        if segments and not state.clipped and not state.dashed and _conformal(m):
            line = max(segments, key=_length)
        self.paints.append(_Paint(rgb, neutral, box, rect, line))

    def _text(self, state: _State) -> None:
        last = self._text_key
        if (
            last is not None
            and self._text_paint is not None
            and last[0] is state.fill  # the same objects (held here), hence the same colours
            and last[1] is state.stroke
            and last[2:] == (state.render_mode, state.type3)
        ):
            self.paints.append(self._text_paint)  # the same colours as the last show
            return
        self._text_key = (state.fill, state.stroke, state.render_mode, state.type3)
        self._text_paint = None
        mode = state.render_mode
        colours = []
        if mode in (0, 2, 4, 6):
            colours.append(state.fill)
        if mode in (1, 2, 5, 6):
            colours.append(state.stroke)
        if not colours:
            return
        if state.type3:
            raise _Undecidable
        neutral = all(c.neutral() for c in colours)
        rgbs = {c.rgb() for c in colours}
        self._text_paint = _Paint(rgbs.pop() if len(rgbs) == 1 else None, neutral, None)
        self.paints.append(self._text_paint)

    def _unit_square(self, state: _State) -> tuple[float, float, float, float]:
        return _bbox([_apply(state.ctm, x, y) for x in (0.0, 1.0) for y in (0.0, 1.0)])

    def _image(self, image: pikepdf.Dictionary | pikepdf.Object, state: _State) -> None:
        mask = image.get("/ImageMask", image.get("/IM"))
        box = self._unit_square(state)
        if isinstance(mask, bool) and mask:
            self.paints.append(_Paint(state.fill.rgb(), state.fill.neutral(), box))
            return
        space = image.get("/ColorSpace", image.get("/CS"))
        neutral = isinstance(space, pikepdf.Name) and _DEVICE.get(str(space)) == "gray"
        self.paints.append(_Paint(None, neutral, box))

    def _inline_image(self, instruction: pikepdf.ContentStreamInlineImage, state: _State) -> None:
        image = instruction.iimage
        self._image(image.obj, state)

    def _ext_gstate(
        self, resources: pikepdf.Dictionary | None, operands: object, state: _State
    ) -> None:
        if not isinstance(operands, list) or len(operands) != 1:
            raise _Undecidable
        gstate = self._resource(resources, "/ExtGState", operands[0])
        if not isinstance(gstate, pikepdf.Dictionary):
            raise _Undecidable
        for key, value in gstate.items():
            if key == "/LW":
                state.line_width = abs(_num(value))  # the stroke boxes grow with it
                continue
            if key == "/ML":
                state.miter = max(1.0, abs(_num(value)))
                continue
            if key in ("/D", "/SA"):
                state.dashed = True  # no stroke proof (a dash, or pdfium's stroke adjust)
            if key in _PAINT_GS_KEYS:
                continue
            self.proof = False  # alpha, overprint...: no exact pixel colour any more
            if key in _NEUTRAL_GS_KEYS:
                continue
            if key == "/SMask" and value == pikepdf.Name("/None"):
                continue
            if key == "/BM" and value in (pikepdf.Name.Normal, pikepdf.Name.Compatible):
                continue
            raise _Undecidable  # transfer functions, soft masks, blend modes, ...

    def _xobject(
        self, xobject: object, resources: pikepdf.Dictionary | None, state: _State, depth: int
    ) -> None:
        if not isinstance(xobject, pikepdf.Stream):
            return  # pdfium paints nothing for a missing XObject
        subtype = xobject.get("/Subtype")
        if "/OC" in xobject:
            self.proof = False
        if subtype == pikepdf.Name.Image:
            self._image(xobject, state)
        elif subtype == pikepdf.Name.Form:
            self._form(xobject, resources, state, depth)
        # PostScript XObjects are not rendered

    def _form(
        self,
        form: pikepdf.Stream,
        parent_resources: pikepdf.Dictionary | None,
        state: _State,
        depth: int,
    ) -> None:
        if depth >= MAX_FORM_DEPTH or form.objgen in self.forms:
            raise _Undecidable
        _check_group(form)
        matrix = form.get("/Matrix")
        inner = state.copy()
        if isinstance(matrix, pikepdf.Array) and len(matrix) == 6:
            inner.ctm = _mul(tuple(_num(v) for v in matrix), state.ctm)  # type: ignore[arg-type]
        inner.clipped = True  # the form's /BBox clips
        resources = form.get("/Resources")
        if not isinstance(resources, pikepdf.Dictionary):
            resources = parent_resources
        self.forms.append(form.objgen)
        try:
            self.run(pikepdf.parse_content_stream(form), resources, inner, depth + 1)
        finally:
            self.forms.pop()

    def _shading(self, shading: object, resources: pikepdf.Dictionary | None) -> None:
        if not isinstance(shading, pikepdf.Dictionary):
            if isinstance(shading, pikepdf.Stream):
                shading = shading.stream_dict
            else:
                return
        space = shading.get("/ColorSpace")
        neutral = self._space(resources, space) == "gray"
        self.paints.append(_Paint(None, neutral, None))


def _check_group(holder: pikepdf.Dictionary | pikepdf.Stream) -> None:
    group = holder.get("/Group")
    if group is None:
        return
    if not isinstance(group, pikepdf.Dictionary):
        raise _Undecidable
    space = group.get("/CS")
    if space is not None and not (
        isinstance(space, pikepdf.Name) and str(space) in ("/DeviceGray", "/DeviceRGB")
    ):
        raise _Undecidable


def classify_page(
    page: pikepdf.Dictionary,
    resources: object,
    box: tuple[float, float, float, float],
    scale: float,
    tolerance: int,
) -> Verdict:
    """What the content of ``page`` says about its colour. ``resources`` are the page's
    own or inherited /Resources, ``box`` the rendered area
    (crop box within media box, default user space), ``scale`` pixels per point of the
    rendering and ``tolerance`` the pixel test's."""
    try:
        return _classify(page, resources, box, scale, tolerance)
    except _Undecidable:
        return FULL
    except (pikepdf.PdfError, TypeError, ValueError, KeyError, AttributeError):
        return FULL  # let the renderer have its say on a damaged page


def _classify(
    page: pikepdf.Dictionary,
    resources: object,
    box: tuple[float, float, float, float],
    scale: float,
    tolerance: int,
) -> Verdict:
    _check_group(page)
    annots = page.get("/Annots")
    reader = _Reader(proof=annots is None and "/Group" not in page)
    reader.run(
        pikepdf.parse_content_stream(pikepdf.Page(page)),
        resources if isinstance(resources, pikepdf.Dictionary) else None,
        _State(),
        0,
    )
    if annots is not None:
        _annotations(reader, annots, resources)
    paints = reader.paints
    colour = [p for p in paints if not p.neutral]
    if not colour:
        return MONO
    if reader.proof and _proved_colour(paints, box, scale, tolerance):
        return COLOR
    if any(p.box is None for p in colour):
        return FULL
    margin = 3.0 / scale  # anti-aliasing reaches the pixel next to an edge
    x0 = min(p.box[0] for p in colour if p.box) - margin
    y0 = min(p.box[1] for p in colour if p.box) - margin
    x1 = max(p.box[2] for p in colour if p.box) + margin
    y1 = max(p.box[3] for p in colour if p.box) + margin
    x0, y0, x1, y1 = max(x0, box[0]), max(y0, box[1]), min(x1, box[2]), min(y1, box[3])
    if x0 >= x1 or y0 >= y1:
        return MONO  # every colour falls off the rendered page
    return Region(x0, y0, x1, y1)


def _annotations(reader: _Reader, annots: object, resources: object) -> None:
    if not isinstance(annots, pikepdf.Array):
        raise _Undecidable
    for annot in annots:
        if not isinstance(annot, pikepdf.Dictionary):
            continue
        appearance = annot.get("/AP")
        normal = appearance.get("/N") if isinstance(appearance, pikepdf.Dictionary) else None
        if normal is None:
            if annot.get("/Subtype") == pikepdf.Name.Link:
                continue  # pdfium draws no appearance for a link without one
            raise _Undecidable  # pdfium may generate one
        streams = [normal] if isinstance(normal, pikepdf.Stream) else []
        if isinstance(normal, pikepdf.Dictionary) and not isinstance(normal, pikepdf.Stream):
            streams = [v for v in normal.values() if isinstance(v, pikepdf.Stream)]
        for stream in streams:
            # where an appearance lands depends on /Rect and /BBox: no box, only neutrality
            before = len(reader.paints)
            reader._form(stream, None, _State(), 0)
            for paint in reader.paints[before:]:
                paint.box = None


def _proved_colour(
    paints: list[_Paint], box: tuple[float, float, float, float], scale: float, tolerance: int
) -> bool:
    """A paint that certainly gives some pixel its colour, with everything painted later
    on the same side of neutral.

    A rectangle fill covering whole pixels sets them to its colour. A straight stroked
    segment paints, away from its ends, some pixel at a coverage of at least one half
    whatever its width and position: pdfium strokes no thinner than one device pixel
    (a band at least one pixel wide holds a pixel centre within half a pixel of its
    middle line, and covers at least half that pixel), so the pixel is at least
    :data:`LINE_COVER` of the way (half of what was measured, for safety) from what was
    there to the stroke colour. What was there is neutral when everything painted
    before is (blending neutrals gives neutrals), so the pixel's spread is at least that
    fraction of the colour's."""
    earlier_neutral = 0  # how many paints from the first are all neutral
    while earlier_neutral < len(paints) and paints[earlier_neutral].neutral:
        earlier_neutral += 1
    for index, paint in enumerate(paints):
        if paint.rgb is None or paint.neutral:
            continue
        if paint.rect is not None and _covers_a_pixel(paint.rect, box, scale):
            cover = 1.0
        elif (
            paint.line is not None
            and index <= earlier_neutral
            and _inside_the_page(paint.line, box, scale)
        ):
            cover = LINE_COVER
        else:
            continue
        later = paints[index:]
        if len(later) > MAX_LATER_PAINTS + 1:
            continue
        rgbs = [p.rgb for p in later]
        if any(c is None for c in rgbs):
            continue
        need = tolerance + 2 * len(later) + 2  # rounding of each blend, and of the colours
        for direction, weight in _DIRECTIONS:
            margins = [
                sum(u * v for u, v in zip(direction, c, strict=True)) / weight
                for c in rgbs
                if c is not None
            ]
            if margins[0] * cover > need and all(m > need for m in margins):
                return True
    return False


#: The least share of a pixel a stroke is counted to cover (see :func:`_proved_colour`);
#: pdfium at the render scale gives at least 0.52 to lines 0 to 2 pt wide, 2 to 70 pixels
#: long, at any angle and position (tests/analysis/test_speedups.py measures it again).
LINE_COVER = 0.25
#: A stroked segment counts when at least this many pixels long, all within the page.
MIN_LINE_PIXELS = 4.0


def _length(segment: tuple[float, float, float, float]) -> float:
    return math.hypot(segment[2] - segment[0], segment[3] - segment[1])


def _conformal(m: Matrix) -> bool:
    """A rotation and uniform scale (perhaps mirrored): line widths scale evenly, so
    pdfium's one-pixel least width holds in every direction."""
    a, b, c, d = m[0], m[1], m[2], m[3]
    size = max(abs(a), abs(b), abs(c), abs(d))
    if size == 0 or not math.isfinite(size):
        return False
    slack = 1e-6 * size
    rotation = abs(a - d) <= slack and abs(b + c) <= slack
    mirrored = abs(a + d) <= slack and abs(b - c) <= slack
    return rotation or mirrored


def _inside_the_page(
    segment: tuple[float, float, float, float],
    box: tuple[float, float, float, float],
    scale: float,
) -> bool:
    margin = 3.0 / scale
    x0, y0, x1, y1 = segment
    return (
        _length(segment) * scale >= MIN_LINE_PIXELS
        and all(box[0] + margin <= x <= box[2] - margin for x in (x0, x1))
        and all(box[1] + margin <= y <= box[3] - margin for y in (y0, y1))
    )


def _covers_a_pixel(
    rect: tuple[float, float, float, float], box: tuple[float, float, float, float], scale: float
) -> bool:
    margin = 2.0 / scale
    x0, y0 = max(rect[0], box[0] + margin), max(rect[1], box[1] + margin)
    x1, y1 = min(rect[2], box[2] - margin), min(rect[3], box[3] - margin)
    return (x1 - x0) * scale >= 3 and (y1 - y0) * scale >= 3
