"""The machinery of the typed results: frozen records read from and written to JSON.

A :class:`Record` is a frozen dataclass whose fields are named as its JSON keys. A field
without a default is a key every producer writes; a field with a default (``None``) is a
key some documents have and others do not (a failed run has no ``findings``). Each
field's annotation says what its value is, and is the one description both the reader
(:meth:`Record.from_json`) and the published JSON Schema (:func:`json_schema`) use:

``str``, ``int``, ``float``, ``bool``, ``X | None``
    JSON scalars; a ``float`` accepts a JSON integer (a producer writes ``1`` or ``1.0``).
``tuple[X, ...]``
    a JSON array of ``X``.
``SomeRecord``
    a nested record (a JSON object).
``JSON`` / ``Mapping[str, JSON]``
    any JSON value / any JSON object, kept as it was written (read-only: objects as
    :class:`types.MappingProxyType`, arrays as tuples).

Keys a record does not declare are kept, not refused, in its ``extra`` mapping: batch
steps (:mod:`gcms.batch.pipeline`) add keys to run records and document sections of
their own, and a document written by a newer gcms of the same format version may carry
keys this one does not know. Refusing them would make a lab's own step break every
reader; keeping them in one explicit place keeps the round trip lossless and shows the
reader what was not typed. The order of the keys as read is kept too (``json_keys``), so
that :meth:`Record.to_json` writes the same object, key for key, null for null.

Not-a-number: the producers write NaN and infinities as ``null`` (``allow_nan=False``);
a typed number reads ``null`` as ``None``, and a NaN or infinity token, which Python's
``json`` module accepts, is read as ``None`` too, so that what is written back is what a
producer would have written.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Union

from gcms.errors import FormatError

__all__ = ["JSON", "Record", "freeze", "json_schema", "thaw"]

#: Any JSON value (read-only once read: objects as mappings, arrays as tuples).
JSON = Any

_EMPTY: Mapping[str, Any] = types.MappingProxyType({})
_INTERNAL = ("extra", "json_keys")


class _Invalid(Exception):
    """Where in the document (a JSON path) and what is wrong.

    The caller that knows the file makes it a :class:`FormatError`.
    """

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


def freeze(value: Any) -> Any:
    """A JSON value made read-only.

    Objects become mapping proxies, arrays tuples, NaN and infinities ``None``.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return types.MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON form of a value.

    Records by :meth:`Record.to_json`, mappings as dicts, tuples as lists, NaN and
    infinities as ``None``.
    """
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Record:
    """Base of the typed results records (module docstring).

    Attributes
    ----------
    extra : Mapping[str, JSON]
        The keys the producer wrote that this record does not declare, as written.
    json_keys : tuple of str
        The keys in the order they were read (empty for a record made in Python: then
        the declared fields come first, then ``extra``).
    """

    extra: Mapping[str, JSON] = dataclasses.field(default_factory=lambda: _EMPTY, repr=False)
    json_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False, compare=False)

    _hints: ClassVar[dict[type, dict[str, Any]]] = {}

    # ------------------------------------------------------------------- reading
    @classmethod
    def _fields(cls) -> dict[str, tuple[Any, bool]]:
        """Declared JSON keys: name -> (annotation, required)."""
        hints = Record._hints.get(cls)
        if hints is None:
            hints = typing.get_type_hints(cls)
            Record._hints[cls] = hints
        return {f.name: (hints[f.name], f.default is dataclasses.MISSING
                         and f.default_factory is dataclasses.MISSING)
                for f in dataclasses.fields(cls) if f.name not in _INTERNAL}

    @classmethod
    def _read(cls, data: Any, where: str) -> Record:
        if not isinstance(data, Mapping):
            raise _Invalid(where, f"expected an object, found {_kind(data)}")
        declared = cls._fields()
        values = {}
        for name, (annotation, required) in declared.items():
            if name in data:
                values[name] = _read_value(data[name], annotation, f"{where}.{name}")
            elif required:
                raise _Invalid(where, f"the key {name!r} is missing")
        extra = {str(k): freeze(v) for k, v in data.items() if k not in declared}
        return cls(**values, extra=types.MappingProxyType(extra),
                   json_keys=tuple(str(k) for k in data))

    @classmethod
    def from_json(cls, data: Any, *, source: str | None = None) -> Any:
        """A record read from its JSON object (``json.load`` gave it), keys checked.

        Parameters
        ----------
        data : mapping
            The record's JSON object (a run record, a component...).
        source : str, optional
            How to name it in errors (default ``"<results record>"``).

        Raises
        ------
        FormatError
            A declared key is missing or of the wrong type (the message names ``source``
            and the JSON path).
        """
        return read_record(cls, data, source or "<results record>")

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        """Declared optional keys -> their default (a key left at it is not written)."""
        return {f.name: f.default for f in dataclasses.fields(cls)
                if f.name not in _INTERNAL and f.default is not dataclasses.MISSING}

    def __reduce__(self):
        # mapping proxies do not pickle: a record travels (to a worker process) as its
        # JSON object, which reads back to an equal record
        return (_rebuild, (type(self), self.to_json()))

    # ------------------------------------------------------------------- changing
    def replace(self, **changes: Any) -> Any:
        """A copy with some keys set: how a batch step adds its section to a record.

        Each value is checked against the key's declared type (as if read) and stored
        read-only; records, mappings and lists may be given. A key the record did not
        have is written after the ones it had, in the order given here (as setting it
        in the JSON object would), so that :meth:`to_json` is what the step would have
        written.

        Parameters
        ----------
        **changes
            Declared keys and their new values (e.g. ``quantitation=(Quantity(...),)``).

        Returns
        -------
        Record
            A new record of the same class; this one is not changed.

        Raises
        ------
        TypeError
            A key the record does not declare (keep a step's own keys in its own
            section, or pass them through ``extra``).
        FormatError
            A value of the wrong type (a bug in the step), named by its JSON path.

        Examples
        --------
        >>> from gcms.results import RunQA
        >>> qa = RunQA(status="passing", policy="block", reportable=True)
        >>> qa.replace(reason="tune of 2025-03-04 passed").to_json()["reason"]
        'tune of 2025-03-04 passed'
        """
        declared = self._fields()
        values = {}
        for name, value in changes.items():
            if name not in declared:
                raise TypeError(f"{type(self).__name__} declares no key {name!r}")
            try:
                values[name] = _read_value(thaw(value), declared[name][0],
                                           f"{type(self).__name__}.{name}")
            except _Invalid as error:
                raise FormatError(f"not a valid results record: {error}") from None
        keys = self.json_keys
        if keys:
            keys = (*keys, *(name for name in changes if name not in keys))
        return dataclasses.replace(self, **values, json_keys=keys)

    # ------------------------------------------------------------------- writing
    def to_json(self) -> dict[str, Any]:
        """The JSON object of this record.

        Every key read, in the order read, with the values it holds now; then the
        required keys not read (a record made in Python) and the optional ones set to
        something other than ``None`` and their default (``()`` for a list), as
        :func:`dataclasses.replace` sets a step's section.
        """
        declared = self._fields()
        out: dict[str, Any] = {}
        for key in self.json_keys:
            if key in declared:
                out[key] = thaw(getattr(self, key))
            elif key in self.extra:
                out[key] = thaw(self.extra[key])
        defaults = self._defaults()
        for name, (_, required) in declared.items():
            value = getattr(self, name)
            if name not in out and (required or (value is not None
                                                 and value != defaults.get(name))):
                out[name] = thaw(value)
        for key, value in self.extra.items():
            out.setdefault(key, thaw(value))
        return out


def _rebuild(cls: type[Record], data: dict[str, Any]) -> Record:
    return cls._read(data, "$")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", tuple: "an array"}.get(type(value), "an object"
                                                      if isinstance(value, Mapping)
                                                      else type(value).__name__)


def _options(annotation: Any) -> tuple[list[Any], bool]:
    """The non-null types of an annotation, and whether it allows null."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = list(typing.get_args(annotation))
        return [a for a in args if a is not type(None)], type(None) in args
    return [annotation], False


def _read_value(value: Any, annotation: Any, where: str) -> Any:
    options, nullable = _options(annotation)
    if annotation is Any:
        return freeze(value)
    if isinstance(value, float) and not math.isfinite(value) and float in options:
        value = None   # NaN / Infinity tokens: what the producers write as null
    if value is None:
        if nullable:
            return None
        raise _Invalid(where, "is null, where a value is required")
    problems = []
    for option in options:
        try:
            return _read_one(value, option, where)
        except _Invalid as error:
            problems.append(error)
    if len(problems) == 1:
        raise problems[0]
    raise _Invalid(where, f"{_kind(value)} matches none of the types allowed here")


def _read_one(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return annotation._read(value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Invalid(where, f"expected an array, found {_kind(value)}")
        item = typing.get_args(annotation)[0]
        return tuple(_read_value(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is Mapping or annotation is Mapping:
        if not isinstance(value, Mapping):
            raise _Invalid(where, f"expected an object, found {_kind(value)}")
        return freeze(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise _Invalid(where, f"expected true or false, found {_kind(value)}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(where, f"expected an integer, found {_kind(value)}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(where, f"expected a number, found {_kind(value)}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise _Invalid(where, f"expected a string, found {_kind(value)}")
        return value
    raise TypeError(f"{where}: unsupported annotation {annotation!r}")  # a bug here


def read_record(cls: type[Record], data: Any, source: str) -> Any:
    """``cls`` read from ``data``.

    A mismatch is a :class:`FormatError` naming ``source`` and the JSON path.
    """
    try:
        return cls._read(data, "$")
    except _Invalid as error:
        raise FormatError(f"{source}: not a valid results document: {error}") from None


# ------------------------------------------------------------------------- JSON Schema
def json_schema(roots: tuple[type[Record], ...], *, schema_id: str, title: str,
                description: str = "") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a document that is one of ``roots``.

    Every record is one entry of ``$defs`` named as its class.
    """
    defs: dict[str, Any] = {}

    def schema_of(annotation: Any) -> dict[str, Any]:
        if annotation is Any:
            return {}
        options, nullable = _options(annotation)
        schemas = [one(o) for o in options]
        if nullable:
            schemas.append({"type": "null"})
        return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}

    def one(annotation: Any) -> dict[str, Any]:
        if isinstance(annotation, type) and issubclass(annotation, Record):
            name = annotation.__name__
            if name not in defs:
                defs[name] = {}
                defs[name] = record(annotation)
            return {"$ref": f"#/$defs/{name}"}
        if typing.get_origin(annotation) is tuple:
            return {"type": "array", "items": schema_of(typing.get_args(annotation)[0])}
        if typing.get_origin(annotation) is Mapping or annotation is Mapping:
            return {"type": "object"}
        return {"type": {bool: "boolean", int: "integer", float: "number",
                         str: "string"}[annotation]}

    def record(cls: type[Record]) -> dict[str, Any]:
        declared = cls._fields()
        out: dict[str, Any] = {"type": "object"}
        doc = (cls.__doc__ or "").strip().splitlines()
        if doc:
            out["description"] = doc[0]
        out["properties"] = {name: schema_of(annotation)
                             for name, (annotation, _) in declared.items()}
        out["required"] = [name for name, (_, required) in declared.items() if required]
        out["additionalProperties"] = True   # kept in `extra` (module docstring)
        return out

    choices = [one(root) for root in roots]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id,
            "title": title, "description": description, "oneOf": choices,
            "$defs": dict(sorted(defs.items()))}
