"""List, detail, vote (a POST form with its CSRF token) and a JSON API view."""

from __future__ import annotations

from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from tests.interop.django_site.polls.models import Choice, Question


def index(request: HttpRequest) -> HttpResponse:
    questions = Question.objects.order_by("-published")[:5]
    return render(request, "polls/index.html", {"questions": questions})


def detail(request: HttpRequest, question_id: int) -> HttpResponse:
    question = get_object_or_404(Question, pk=question_id)
    return render(request, "polls/detail.html", {"question": question})


@require_POST
def vote(request: HttpRequest, question_id: int) -> HttpResponse:
    question = get_object_or_404(Question, pk=question_id)
    try:
        choice = question.choices.get(pk=request.POST["choice"])
    except (KeyError, Choice.DoesNotExist):
        return render(
            request,
            "polls/detail.html",
            {"question": question, "error": "You didn't select a choice."},
            status=400,
        )
    Choice.objects.filter(pk=choice.pk).update(votes=F("votes") + 1)
    return HttpResponseRedirect(reverse("polls:results", args=(question.pk,)))


def results(request: HttpRequest, question_id: int) -> JsonResponse:
    question = get_object_or_404(Question, pk=question_id)
    choices = [
        {"id": c.pk, "text": c.text, "votes": c.votes} for c in question.choices.order_by("pk")
    ]
    return JsonResponse({"question": question.text, "choices": choices})
