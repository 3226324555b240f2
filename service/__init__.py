"""The cached explainer service between the Dash UI (``components/``) and the explainer core
(``explainers/``): picture store, resident models, result cache. No TensorFlow at import time."""
from explainers.api import DEFAULT_METHODS as DEFAULT_METHODS  # the one list of default methods
from explainers.errors import ExplainerError, WeightsError
from service.classes import ClassChoice, class_name, counterpart_class
from service.core import ExplainerService
from service.errors import describe_error
from service.results import MapResult
from service.store import ImageStore, parse_data_url

__all__ = ["ClassChoice", "ExplainerError", "ExplainerService", "WeightsError", "ImageStore", "MapResult", "class_name",
           "counterpart_class", "describe_error", "parse_data_url"]
