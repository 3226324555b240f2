"""The cached explainer service between the Dash UI (``components/``) and the explainer core
(``explainers/``): picture store, resident models, result cache. No TensorFlow at import time."""

from explainers.api import DEFAULT_METHODS as DEFAULT_METHODS  # the one list of default methods
from explainers.errors import ExplainerError, WeightsError
from service.classes import ClassChoice, choose_class, class_name, counterpart_class, model_title
from service.core import ExplainerService
from service.errors import describe_error
from service.results import MapResult
from service.store import ImageStore, parse_data_url

__all__ = [
    "ClassChoice",
    "ExplainerError",
    "ExplainerService",
    "WeightsError",
    "ImageStore",
    "MapResult",
    "choose_class",
    "class_name",
    "counterpart_class",
    "describe_error",
    "model_title",
    "parse_data_url",
]
