"""What travels through Redis: one <Job>Payload and <Job>Result model per job.

Payloads carry ids and options, never file contents. Unknown fields are refused, so a typo in
a producer fails at once with BAD_INPUT instead of being ignored; so are NUL characters in text
and NaN or Infinity in numbers. This package imports only pydantic, ids.py and
`photos.analysis` (which imports only pydantic), so producers can use it without the
worker's dependencies.

The models live beside this module by kind of job: `media`, `ai`, `photos`, `upkeep` (the
queue's own jobs); `base` holds `Payload`, `Result` and the shared field types. Import them
from here.
"""

from __future__ import annotations

from mediaworker.payloads.ai import (
    ClaimTtsPayload,
    ClaimTtsResult,
    EnhanceImagePayload,
    EnhanceImageResult,
    GenerateImagePayload,
    GenerateImageResult,
    ImageQuality,
    ImageSize,
    Language,
    SpeechFormat,
    SpeechPayload,
    SpeechResult,
    TranscribePayload,
    TranscribeResult,
    UpscaleFactor,
    UpscalePayload,
    UpscaleResult,
    VoiceName,
)
from mediaworker.payloads.base import (
    WEBHOOK_OPTION,
    Derivative,
    MediaId,
    MediaRowPayload,
    Payload,
    ProjectId,
    Result,
)
from mediaworker.payloads.media import (
    AR_DEFAULT_WIDTH_M,
    AR_WIDTH_RANGE_M,
    ArExportPayload,
    ArExportResult,
    ArProduct,
    EnqueuedJob,
    ProcessUploadPayload,
    ProcessUploadResult,
    ThumbnailsPayload,
    ThumbnailsResult,
    VideoPreviewPayload,
    VideoPreviewResult,
    VideoThumbnailPayload,
    VideoThumbnailResult,
    WaveformPayload,
    WaveformResult,
)
from mediaworker.payloads.photos import (
    AnalyzePhotoPayload,
    AnalyzePhotoResult,
    RefreshInventoriesPayload,
    RefreshInventoriesResult,
    SyncInventoryPayload,
    SyncInventoryResult,
)
from mediaworker.payloads.upkeep import (
    DeliverWebhookPayload,
    DeliverWebhookResult,
    PruneHistoryResult,
    ReconcileJobsResult,
    ReconcilePayload,
    ReconcileResult,
)

__all__ = [
    "AR_DEFAULT_WIDTH_M",
    "AR_WIDTH_RANGE_M",
    "WEBHOOK_OPTION",
    "AnalyzePhotoPayload",
    "AnalyzePhotoResult",
    "ArExportPayload",
    "ArExportResult",
    "ArProduct",
    "ClaimTtsPayload",
    "ClaimTtsResult",
    "DeliverWebhookPayload",
    "DeliverWebhookResult",
    "Derivative",
    "EnhanceImagePayload",
    "EnhanceImageResult",
    "EnqueuedJob",
    "GenerateImagePayload",
    "GenerateImageResult",
    "ImageQuality",
    "ImageSize",
    "Language",
    "MediaId",
    "MediaRowPayload",
    "Payload",
    "ProcessUploadPayload",
    "ProcessUploadResult",
    "ProjectId",
    "PruneHistoryResult",
    "ReconcileJobsResult",
    "ReconcilePayload",
    "ReconcileResult",
    "RefreshInventoriesPayload",
    "RefreshInventoriesResult",
    "Result",
    "SpeechFormat",
    "SpeechPayload",
    "SpeechResult",
    "SyncInventoryPayload",
    "SyncInventoryResult",
    "ThumbnailsPayload",
    "ThumbnailsResult",
    "TranscribePayload",
    "TranscribeResult",
    "UpscaleFactor",
    "UpscalePayload",
    "UpscaleResult",
    "VideoPreviewPayload",
    "VideoPreviewResult",
    "VideoThumbnailPayload",
    "VideoThumbnailResult",
    "VoiceName",
    "WaveformPayload",
    "WaveformResult",
]
