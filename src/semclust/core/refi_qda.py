"""REFI-QDA exchange files (www.qdasoftware.org): codebooks (``.qdc``) and projects (``.qdpx``).

The open standard ATLAS.ti, NVivo, MAXQDA and QualCoder import. A ``.qdc`` is one XML file
(namespace ``urn:QDA-XML:codebook:1.0``); a ``.qdpx`` is a zip holding ``project.qde`` (XML,
namespace ``urn:QDA-XML:project:1.0``) and the project's files under ``Sources/``, named by
GUID. This module is the format only: semclust's runs become codes in
:mod:`semclust.exploration.export_qda`.

XML is built and read with :mod:`xml.etree.ElementTree`, never by pasting strings, so a name
or description holding ``<``, ``&`` or quotes cannot break the file; characters XML 1.0
forbids (control characters a model may emit) are dropped. Reading never resolves external
entities (ElementTree does not), and the bundled expat refuses entity-expansion bombs.
"""

from __future__ import annotations

import os
import re
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from semclust.core.errors import SemclustError

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
PROJECT_NS = "urn:QDA-XML:project:1.0"
ORIGIN = "semclust"
PROJECT_FILE = "project.qde"
SOURCES_FOLDER = "Sources"
#: The picture formats the standard names (a PictureSource is JPEG or PNG).
PICTURE_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: A project.qde larger than this is refused before it is parsed (a zip bomb, not a codebook).
MAX_QDE_BYTES = 256 * 1024 * 1024
#: Every GUID this module invents is a uuid5 under this namespace, so the same input gives the same GUID.
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://www.qdasoftware.org/#semclust")

_GUID = re.compile(r"(\{)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?(1)\})")
_RGB = re.compile(r"#([A-Fa-f0-9]{6}|[A-Fa-f0-9]{3})")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: A zip archive written twice must be the same bytes: every entry gets this time stamp.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass
class QdaCode:
    """One code of a codebook; ``children`` are its sub-codes (the standard nests ``Code`` in ``Code``)."""

    name: str
    description: str = ""
    guid: str = ""
    children: list[QdaCode] = field(default_factory=list)
    color: str | None = None


@dataclass(frozen=True)
class QdaPicture:
    """A JPEG or PNG source of a project, coded as a whole (0,0 to width,height) by one code."""

    guid: str
    name: str
    file: Path  # the JPEG or PNG file copied into sources/
    extension: str  # ".jpg" or ".png"
    width: int
    height: int
    code_guid: str
    description: str = ""


def stable_guid(*parts: object) -> str:
    """An upper-case GUID that depends only on ``parts`` (uuid5), so re-exports are identical."""
    return str(uuid.uuid5(GUID_NAMESPACE, "/".join(str(p) for p in parts))).upper()


# --- reading -----------------------------------------------------------------------------


def read_codebook(path: str | Path) -> list[QdaCode]:
    """The codes of a ``.qdc`` codebook or of the codebook inside a ``.qdpx`` project, nested as stored.

    The file is recognised by its content (a zip is a project, anything else must be a
    codebook's XML), not by its extension. A file that is neither raises one
    :class:`SemclustError` line saying why.
    """
    path = Path(path)
    if not path.is_file():
        raise SemclustError(f"no REFI-QDA file at {path}")
    if zipfile.is_zipfile(path):
        root = _parse(_project_xml(path), path, f"{PROJECT_FILE} in ")
    else:
        root = _parse(path.read_bytes(), path, "")
    codes = _codes_element(root, path)
    found = [_read_code(element, path) for element in _children(codes, "Code")]
    if not found:
        raise SemclustError(f"{path}: the codebook holds no codes")
    return found


def _project_xml(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            entry = next((i for i in archive.infolist() if i.filename.lower() == PROJECT_FILE), None)
            if entry is None:
                raise SemclustError(f"{path} is a zip archive without {PROJECT_FILE}, so not a REFI-QDA "
                                    "project (.qdpx)")
            if entry.file_size > MAX_QDE_BYTES:
                raise SemclustError(f"{path}: {PROJECT_FILE} is {entry.file_size:,} bytes, more than the "
                                    f"{MAX_QDE_BYTES:,} read")
            return archive.read(entry)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SemclustError(f"{path}: cannot read the REFI-QDA project (.qdpx): {exc}") from exc


def _parse(data: bytes, path: Path, where: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise SemclustError(f"{where}{path} is not a REFI-QDA codebook (.qdc) or project (.qdpx): "
                            f"malformed XML at line {line}, column {column + 1}") from exc


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _codes_element(root: ET.Element, path: Path) -> ET.Element:
    """``Codes`` of a ``CodeBook`` root, or of a ``Project``'s ``CodeBook``."""
    kind = _local(root.tag)
    if kind == "Project":
        books = _children(root, "CodeBook")
        if not books:
            raise SemclustError(f"{path}: the REFI-QDA project has no CodeBook, so no codes to read")
        root = books[0]
    elif kind != "CodeBook":
        raise SemclustError(f"{path} is not a REFI-QDA codebook (.qdc) or project (.qdpx): its root "
                            f"element is <{kind}>, not <CodeBook> ({CODEBOOK_NS}) or <Project> ({PROJECT_NS})")
    codes = _children(root, "Codes")
    if not codes:
        raise SemclustError(f"{path}: the codebook has no <Codes> element")
    return codes[0]


def _read_code(element: ET.Element, path: Path) -> QdaCode:
    name = (element.get("name") or "").strip()
    if not name:
        raise SemclustError(f"{path}: a code has no name (guid {element.get('guid') or 'none'})")
    description = next((d.text or "" for d in _children(element, "Description")), "")
    return QdaCode(name=name, description=description, guid=element.get("guid") or "",
                   children=[_read_code(child, path) for child in _children(element, "Code")],
                   color=element.get("color") or None)


# --- writing -----------------------------------------------------------------------------


def write_codebook(codes: list[QdaCode], path: str | Path) -> Path:
    """Write ``codes`` as a ``.qdc`` codebook (Codebook.xsd); the file appears whole or not at all.

    Codes without a GUID get a stable one from their names' path, so writing the same codes
    twice gives the same bytes.
    """
    root = ET.Element("CodeBook", {"origin": ORIGIN})
    _codes_into(ET.SubElement(root, "Codes"), codes)
    path = Path(path)
    _replace(path, lambda tmp: tmp.write_bytes(_serialise(root, CODEBOOK_NS)))
    return path


def write_project(codes: list[QdaCode], pictures: list[QdaPicture], path: str | Path, *,
                  name: str = ORIGIN, description: str = "", user_name: str = ORIGIN) -> Path:
    """Write a ``.qdpx``: ``project.qde`` (Project.xsd) with ``codes`` and ``pictures``, each picture
    coded as a whole by its code, and every picture's file under ``sources/`` (named by GUID)."""
    path = Path(path)
    user = stable_guid("user", user_name)
    xml = _project_element(codes, pictures, user, name=name, description=description, user_name=user_name)
    names = [f"{SOURCES_FOLDER}/{p.guid}{p.extension}" for p in pictures]

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w") as archive:
            archive.writestr(_zip_entry(PROJECT_FILE, zipfile.ZIP_DEFLATED), _serialise(xml, PROJECT_NS))
            for picture, entry in zip(pictures, names, strict=True):
                # Images are JPEG/PNG already: stored, not recompressed; streamed, not held in memory.
                with (open(picture.file, "rb") as src,
                      archive.open(_zip_entry(entry, zipfile.ZIP_STORED), "w") as dst):
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)

    _replace(path, write)
    return path


def _project_element(codes: list[QdaCode], pictures: list[QdaPicture], user: str, *, name: str,
                     description: str, user_name: str) -> ET.Element:
    if not codes:
        raise SemclustError("a REFI-QDA project needs at least one code")
    root = ET.Element("Project", {"name": _text(name) or ORIGIN, "origin": ORIGIN, "creatingUserGUID": user})
    ET.SubElement(ET.SubElement(root, "Users"), "User", {"guid": user, "name": _text(user_name)})
    known = _codes_into(ET.SubElement(ET.SubElement(root, "CodeBook"), "Codes"), codes)
    if pictures:
        sources = ET.SubElement(root, "Sources")
        for picture in pictures:
            if _same(picture.code_guid) not in known:
                raise SemclustError(f"picture {picture.name!r} is coded with {picture.code_guid}, "
                                    "which is no code of the project")
            if picture.extension not in PICTURE_EXTENSIONS:
                raise SemclustError(f"picture {picture.name!r}: REFI-QDA pictures are JPEG or PNG, "
                                    f"not {picture.extension!r}")
            _picture_into(sources, picture, user)
    if description:
        ET.SubElement(root, "Description").text = _text(description)
    return root


def _picture_into(sources: ET.Element, picture: QdaPicture, user: str) -> None:
    source = ET.SubElement(sources, "PictureSource", {
        "guid": _guid(picture.guid), "name": _text(picture.name),
        "path": f"internal://{picture.guid}{picture.extension}", "creatingUser": user})
    if picture.description:
        ET.SubElement(source, "Description").text = _text(picture.description)
    selection = ET.SubElement(source, "PictureSelection", {
        "guid": stable_guid("selection", picture.guid), "name": _text(picture.name),
        "firstX": "0", "firstY": "0", "secondX": str(int(picture.width)), "secondY": str(int(picture.height)),
        "creatingUser": user})
    coding = ET.SubElement(selection, "Coding", {"guid": stable_guid("coding", picture.guid),
                                                      "creatingUser": user})
    ET.SubElement(coding, "CodeRef", {"targetGUID": picture.code_guid})


def _codes_into(parent: ET.Element, codes: list[QdaCode], trail: tuple[str, ...] = (),
                known: set[str] | None = None) -> set[str]:
    """Append ``codes`` (recursively) under ``parent``; returns every GUID written (as :func:`_same`)."""
    known = set() if known is None else known
    if not codes and not trail:
        raise SemclustError("a REFI-QDA codebook needs at least one code")
    for code in codes:
        name = _text(code.name).strip()
        if not name:
            raise SemclustError(f"a code under {' > '.join(trail) or 'the top'} has an empty name")
        guid = _guid(code.guid) if code.guid else stable_guid("code", *trail, name)
        if _same(guid) in known:
            raise SemclustError(f"two codes share the GUID {guid} (the second is {name!r})")
        known.add(_same(guid))
        attributes = {"guid": guid, "name": name, "isCodable": "true"}
        if code.color is not None:
            if not _RGB.fullmatch(code.color):
                raise SemclustError(f"code {name!r}: color {code.color!r} is not #RRGGBB or #RGB")
            attributes["color"] = code.color
        element = ET.SubElement(parent, "Code", attributes)
        if code.description:
            ET.SubElement(element, "Description").text = _text(code.description)
        _codes_into(element, code.children, (*trail, name), known)
    return known


def _guid(value: str) -> str:
    if not _GUID.fullmatch(value):
        raise SemclustError(f"{value!r} is not a GUID (8-4-4-4-12 hexadecimal digits)")
    return value


def _same(guid: str) -> str:
    """The form two spellings of one GUID share (case and braces differ between tools)."""
    return guid.upper().strip("{}")


def _text(value: object) -> str:
    """``value`` as text XML 1.0 can hold: its forbidden control characters dropped."""
    return _NOT_XML.sub("", str(value))


def _serialise(root: ET.Element, ns: str) -> bytes:
    """The document with ``ns`` as its default namespace (elements are built unqualified for that)."""
    root.set("xmlns", ns)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _zip_entry(name: str, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    return info


def _replace(path: Path, write) -> None:
    """``write(tmp)`` beside ``path``, then rename over it: a crash leaves no half-written file."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
