import { Button } from "@mantine/core";
import { Link } from "react-router";
import { EmptyState, PageHeader } from "../components/common";

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" />
      <EmptyState
        title="Nothing lives at this address"
        action={
          <Button component={Link} to="/">
            Go to your team
          </Button>
        }
      >
        The link may be out of date, or the page belongs to an organization you are not a member of.
      </EmptyState>
    </>
  );
}
