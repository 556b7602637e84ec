"""One upload job for every spreadsheet form (issue 9 item 2): who uploaded which file for
which form, what became of it (status, progress, attempts, counts, error report) and when
its files went (retention). Exported as ``portal.models.UploadJob``."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class UploadStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "导入中"
    DONE = "done", "已导入"
    REJECTED = "rejected", "已拒收"
    FAILED = "failed", "失败"


FINISHED = (UploadStatus.DONE, UploadStatus.REJECTED, UploadStatus.FAILED)


def upload_path(instance, filename: str) -> str:
    # The stored name is ours; the user's file name is only displayed.
    suffix = filename.rsplit(".", 1)[-1].lower()[:8] if "." in filename else "bin"
    return f"uploads/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{suffix}"


class UploadJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> UploadJobQuerySet:
        """An organisation sees the jobs its users uploaded (an institution's, a carrier's,
        a regulator's); the administration reads all; a financial regulator its own and
        those of the institutions in its scope (issue 14 §6), not a carrier's report or
        filing upload nor the administration's complaint lists, whose files and error
        reports name institutions outside its scope (tenancy)."""
        from portal.models import OrgKind, in_scope

        if not getattr(user, "is_authenticated", False) or user.organisation_id is None:
            return self.none()
        organisation = user.organisation
        if organisation.kind == OrgKind.REGULATOR:
            return self
        if organisation.kind == OrgKind.FINANCIAL_REGULATOR:
            return self.filter(
                Q(organisation_id=organisation.pk) | in_scope(organisation, "organisation_id")
            )
        return self.filter(organisation_id=user.organisation_id)

    def of_form(self, code: str) -> UploadJobQuerySet:
        return self.filter(form=code)


class UploadJob(models.Model):
    """One upload of a declared spreadsheet form (portal/spreadsheets/forms.py)."""

    organisation = models.ForeignKey(
        "portal.Organisation",
        verbose_name="上传单位",
        on_delete=models.PROTECT,
        related_name="upload_jobs",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="上传人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    form = models.CharField("表单", max_length=40, db_index=True)
    # The form's own options (the register: {"mode": "merge" | "replace"}).
    options = models.JSONField("选项", default=dict, blank=True)
    file = models.FileField("文件", upload_to=upload_path, max_length=200)
    original_name = models.CharField("原文件名", max_length=255)
    size = models.BigIntegerField("文件大小", default=0)
    sha256 = models.CharField("内容哈希", max_length=64, db_index=True)
    status = models.CharField(
        "状态", max_length=10, choices=UploadStatus.choices, default=UploadStatus.QUEUED
    )
    rows_total = models.IntegerField("总行数", default=0)
    rows_done = models.IntegerField("已处理行数", default=0)
    # What the merge did to the form's rows; ``counts`` holds a form's further figures.
    created = models.IntegerField("新增", default=0)
    updated = models.IntegerField("变更", default=0)
    unchanged = models.IntegerField("未变", default=0)
    ended = models.IntegerField("终止", default=0)
    counts = models.JSONField("其他统计", default=dict, blank=True)
    error_count = models.IntegerField("错误数", default=0)
    error_report = models.FileField("错误报告", upload_to=upload_path, blank=True, max_length=200)
    message = models.TextField("结果说明", blank=True)
    warnings = models.JSONField("提示", default=list, blank=True)
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    # Attempts that never came back (their worker died): capped by IMPORT_MAX_LOST_ATTEMPTS.
    lost_attempts = models.PositiveSmallIntegerField("中断次数", default=0)
    # The last sign of life (upload, progress): a job silent for IMPORT_STALE_SECONDS no
    # longer blocks a new upload of the same file.
    heartbeat_at = models.DateTimeField("最近进展时间", default=timezone.now)
    created_at = models.DateTimeField("上传时间", default=timezone.now)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    # Past retention the stored files are deleted; the row and its counts stay (history).
    purged_at = models.DateTimeField("文件清理时间", null=True, blank=True)

    objects = UploadJobQuerySet.as_manager()

    class Meta:
        app_label = "portal"
        verbose_name = "上传任务"
        verbose_name_plural = "上传任务"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organisation", "form"], name="uploadjob_org_form")]

    def __str__(self) -> str:
        return f"{self.original_name}（{self.get_status_display()}）"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(self.rows_done * 100 / self.rows_total))

    @property
    def mode(self) -> str:
        return self.options.get("mode", "")

    @property
    def form_label(self) -> str:
        from .form import registered

        form = registered().get(self.form)
        return form.label if form else self.form
