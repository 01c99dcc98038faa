from app.tracking.one_euro import OneEuroFilter, OneEuroParams
from app.tracking.tracker import IMAGE, VIDEO, FaceTracker

__all__ = ["IMAGE", "VIDEO", "FaceTracker", "OneEuroFilter", "OneEuroParams"]
