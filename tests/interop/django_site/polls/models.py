"""A question and its choices."""

from __future__ import annotations

from django.db import models


class Question(models.Model):
    text = models.CharField(max_length=200)
    published = models.DateTimeField()

    def __str__(self) -> str:
        return str(self.text)


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(max_length=200)
    votes = models.IntegerField(default=0)

    def __str__(self) -> str:
        return str(self.text)
