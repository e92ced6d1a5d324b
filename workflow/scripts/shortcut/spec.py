"""A job's view of the dataset: the column roles the roles job resolved
(``results/<dataset>/config.yaml``, see ``roles``) with the job's own settings, checked together.

Kept free of heavy imports: the Snakefile imports ``DEMO_ENCODING`` from it at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DataError

# A cell that parses as a number (the clean job's numeric columns, the roles job's inference).
NUMBER_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
TARGET = "target"  # name of the class-index column in every cleaned and encoded table
DEMO_ENCODING = "utf-8"  # the demo generator writes its CSVs in UTF-8


@dataclass(frozen=True)
class DatasetSpec:
    """The roles of a dataset's columns, taken from the validated config."""

    target: str
    classes: tuple
    class_names: tuple
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    impute: dict  # column -> {"strategy": ..., "value": ...}
    log1p: tuple[str, ...]
    max_coerced_fraction: float
    encoding: str

    @classmethod
    def from_config(cls, config: dict) -> "DatasetSpec":
        """From a config-shaped dict: target, classes and features (in a job, from the roles
        file: :func:`from_roles`) and the settings a job gets (``dataset_params`` in the
        workflow): a job that does not impute or transform gets no ``impute``/``log1p``, and the
        demo data has no ``data`` section."""
        feats = config["features"]
        impute = {}
        if config.get("impute") is not None:
            imp = config["impute"]
            for column in feats["categorical"]:
                impute[column] = {"strategy": imp["categorical"]}
            for column in feats["numeric"]:
                impute[column] = {"strategy": imp["numeric"]}
            for rule in imp["columns"]:
                rule = dict(rule)
                impute[rule.pop("column")] = rule
        classes = tuple(config["classes"])
        names = tuple(config.get("class_names") or [str(c) for c in classes])
        return cls(
            target=config["target"],
            classes=classes,
            class_names=names,
            categorical=tuple(feats["categorical"]),
            numeric=tuple(feats["numeric"]),
            impute=impute,
            log1p=tuple(config.get("log1p") or ()),
            max_coerced_fraction=float(config["clean"]["max_coerced_fraction"]),
            encoding=config["data"]["encoding"] if config.get("data") else DEMO_ENCODING,
        )

    @property
    def features(self) -> tuple[str, ...]:
        return self.categorical + self.numeric

    def check(self) -> None:
        """Consistency of the roles themselves (the schema checks types)."""
        seen = {}
        for role, cols in (("categorical", self.categorical), ("numeric", self.numeric), ("target", (self.target,))):
            for col in cols:
                if col in seen:
                    raise DataError(f"config: column '{col}' is listed as both {seen[col]} and {role}")
                seen[col] = role
        for col in list(self.impute) + list(self.log1p):
            if col not in seen or col == self.target:
                raise DataError(f"config: '{col}' in impute/log1p is not a feature column")
        for col in self.log1p:
            if col not in self.numeric:
                raise DataError(f"config: log1p column '{col}' is not numeric")
        if len(set(map(str, self.classes))) != len(self.classes):
            raise DataError("config: 'classes' has duplicates")
        if len(self.class_names) != len(self.classes):
            raise DataError("config: 'class_names' must have one name per class")
        import codecs

        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise DataError(f"config: data.encoding '{self.encoding}' is not a text encoding Python knows "
                            "(for example utf-8, latin-1, cp1252)") from None


def from_roles(resolved: dict, settings: dict) -> DatasetSpec:
    """The spec of a job: the roles the roles job resolved (the content of
    ``results/<dataset>/config.yaml``) and the job's own settings from its params
    (``dataset_params`` in the workflow: clean, and impute, log1p, class_names where the job
    reads them), checked together."""
    spec = DatasetSpec.from_config({key: resolved[key] for key in ("target", "classes", "features")} | settings)
    try:
        spec.check()
    except DataError as exc:
        raise DataError(f"{exc} (the roles are in results/<dataset>/config.yaml)") from None
    return spec
