"""The cached explainer service between the Dash UI (``components/``) and the explainer core
(``explainers/``): picture store, resident models, result cache. No TensorFlow at import time."""
from explainers.api import DEFAULT_METHODS as DEFAULT_METHODS  # the one list of default methods
from explainers.errors import ExplainerError, WeightsError
from service.core import ExplainerService
from service.errors import describe_error
from service.results import MapResult
from service.store import ImageStore, parse_data_url

__all__ = ["ExplainerError", "ExplainerService", "WeightsError", "ImageStore", "MapResult", "describe_error",
           "parse_data_url"]
