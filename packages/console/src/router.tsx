import { createBrowserRouter, Navigate } from "react-router";
import { Shell } from "./components/Shell";
import { SignInPage } from "./pages/SignIn";
import { HomePage } from "./pages/Home";
import { TeamPage } from "./pages/Team";
import { RolesPage } from "./pages/Roles";
import { PlatformPage } from "./pages/Platform";
import { AccountPage } from "./pages/Account";
import { NotFoundPage } from "./pages/NotFound";
import { OrgFrame } from "./pages/OrgFrame";

export const router = createBrowserRouter([
  { path: "/sign-in", element: <SignInPage /> },
  {
    element: <Shell />,
    children: [
      { index: true, element: <HomePage /> },
      { path: "account", element: <AccountPage /> },
      { path: "platform", element: <PlatformPage /> },
      {
        path: "orgs/:orgId",
        element: <OrgFrame />,
        children: [
          { index: true, element: <Navigate to="team" replace /> },
          { path: "team", element: <TeamPage /> },
          { path: "team/:memberId", element: <TeamPage /> },
          { path: "roles", element: <RolesPage /> },
        ],
      },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
]);
