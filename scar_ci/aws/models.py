"""botocore's loader of service models, without two costs every scar-ci process paid (issue 17).

- Before loading any model of a kind (service, endpoint rules, paginators, waiters),
  botocore lists every service it knows to check the name: about 450 folders listed and their
  versions looked at, 15 ms of CPU per kind, three or four kinds a deploy. `ModelLoader`
  lists the versions of the service asked for, which is what botocore does next anyway; a
  name botocore does not know still gets botocore's own `UnknownServiceError`.
- botocore decodes each JSON file into `OrderedDict`s, twice as slow as plain dicts, which
  keep the order just as well (botocore makes its own ordered maps of the shapes it reads).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from botocore.exceptions import DataNotFoundError
from botocore.loaders import JSONFileLoader, Loader, instance_cache

INTERNALS = ("_find_extras", "_extras_processor")  # botocore's, which ModelLoader calls
# botocore's own order: a plain file wins over a compressed one
OPENERS = ((".json", open), (".json.gz", gzip.open))


class PlainJsonFiles(JSONFileLoader):
    """botocore's JSON file loader, decoding into plain dicts."""

    def load_file(self, file_path: str) -> Any:
        """The data of `file_path` + `.json` or `.json.gz`, or None when neither is a file."""
        for suffix, opener in OPENERS:
            if Path(file_path + suffix).is_file():
                with opener(file_path + suffix, "rb") as stream:
                    return json.loads(stream.read().decode("utf-8"))
        return None


class ModelLoader(Loader):
    """botocore's `Loader` that finds a service's models without listing every service."""

    FILE_LOADER_CLASS = PlainJsonFiles

    @instance_cache
    def load_service_model(self, service_name: str, type_name: str,
                           api_version: str | None = None) -> Any:
        """As botocore's, which this leaves the unknown names and explicit versions to."""
        if api_version is not None:
            return super().load_service_model(service_name, type_name, api_version)
        try:
            version = self.determine_latest_version(service_name, type_name)
        except DataNotFoundError:  # no such service (or no such model of it)
            return super().load_service_model(service_name, type_name)
        model = self.load_data(str(Path(service_name, version, type_name)))
        self._extras_processor.process(model, self._find_extras(service_name, type_name,
                                                                version))
        return model


def model_loader(search_paths: list[str]) -> Loader:
    """A `ModelLoader` searching `search_paths` (a botocore session's loader's, in order);
    botocore's own `Loader` where a botocore release no longer has the two internals it uses
    (`_find_extras`, `_extras_processor`): slower, never broken."""
    loader = ModelLoader(extra_search_paths=list(search_paths), include_default_search_paths=False)
    if all(hasattr(loader, name) for name in INTERNALS):
        return loader
    return Loader(extra_search_paths=list(search_paths), include_default_search_paths=False)
