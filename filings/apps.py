from django.apps import AppConfig


class FilingsConfig(AppConfig):
    verbose_name = "短信报备"
    default_auto_field = "django.db.models.BigAutoField"
    name = "filings"
