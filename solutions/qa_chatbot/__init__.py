"""FAQ question answering (prefix ``/qa``)."""
